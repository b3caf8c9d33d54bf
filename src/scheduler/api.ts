import type { EventSink, LiveEventSink } from '../events/api.ts'
import type { JobProgress, JobResult, PointReceived, RuleRecord } from '../rules/index.ts'

export type { JobProgress, JobResult, PointReceived }

/**
 * What the scheduler needs from the replication engine: run one job for one rule, and hear of
 * points that arrive from peers. `ReplicationEngine` provides it; tests give a double.
 */
export interface ReplicationJobs {
  replicate (rule: RuleRecord, options?: { signal?: AbortSignal, onProgress?: (p: JobProgress) => void }): Promise<JobResult>
  onPointReceived (listener: (point: PointReceived) => void): () => void
}

/**
 * Where the scheduler reports (deferred and retried jobs, live job progress): the Core's
 * `EventLog`. It only writes there: what starts jobs reaches it as calls and listeners (see
 * `ReplicationScheduler`), not as events.
 */
export interface SchedulerEvents extends EventSink, LiveEventSink {}

/** The pairing decisions the scheduler consults before it starts a job, and hears of. */
export interface SchedulerPeers {
  canSendTo (peerId: string): boolean
  get (peerId: string): { name: string | null, outbound: string } | undefined
  /** calls `listener` when a peer approves this Core (its decision about us), until the returned function is called */
  onApproval (listener: (peerId: string) => void): () => void
}

/** Time, injectable so tests can move it. Timers must not keep the process alive. */
export interface Clock {
  now (): number
  setTimer (fn: () => void, ms: number): unknown
  clearTimer (timer: unknown): void
}

/** What `replication list` shows of a rule's life in the scheduler. */
export interface RuleActivity {
  running: boolean
  /** the running job's last progress report */
  progress: JobProgress | null
  /** when the running job started (ISO) */
  startedAt: string | null
  /** a trigger waits for the rule's window to open at this time (ISO) */
  waitingForWindow: string | null
  /** the next retry of a failed job (ISO) */
  retryAt: string | null
  /** the next cron run (ISO), for rules with a cron schedule */
  nextRunAt: string | null
}
