import type { JobProgress, JobResult, RuleActivity } from './api.ts'

/** Why a job was asked for; shown in events. */
export type TriggerReason = 'start' | 'added' | 'resumed' | 'approved' | 'backup' | 'verify' | 'received' | 'schedule' | 'window' | 'retry' | 'follow-up' | 'seed abandoned' | 'seed consumed'

/** A timer at an absolute time (ms since the epoch) on the scheduler's clock. */
export interface Timer {
  handle: unknown
  at: number
}

/** A `now` caller: served by the next job that starts. */
export interface Waiter {
  resolve: (outcome: JobResult) => void
  reject: (err: Error) => void
  onProgress?: (p: JobProgress) => void
}

/** A running job of one rule. */
export interface Job {
  readonly controller: AbortController
  readonly listeners: Set<(p: JobProgress) => void>
  readonly startedAt: number
  progress: JobProgress | null
  done?: Promise<void>
}

/** The scheduler's state of one rule. */
export interface Slot {
  readonly key: string
  readonly machine: string
  readonly to: string
  job?: Job
  /** a trigger arrived while the job ran: run once more when it ends */
  again: boolean
  queued: boolean
  /** `now` callers, served by the next job that starts */
  waiting: Waiter[]
  /** failed jobs in a row */
  failures: number
  window?: Timer
  retry?: Timer
  cron?: Timer
}

export function newSlot (key: string, machine: string, to: string): Slot {
  return { key, machine, to, again: false, queued: false, waiting: [], failures: 0 }
}

/** A job that serves `waiters` (their progress listeners hear it), started at `startedAt`. */
export function newJob (waiters: Waiter[], startedAt: number): Job {
  return {
    controller: new AbortController(),
    listeners: new Set(waiters.flatMap(w => w.onProgress != null ? [w.onProgress] : [])),
    startedAt,
    progress: null
  }
}

/** What `replication list` shows of a rule's slot (none: the scheduler has done nothing with it). */
export function activityOf (slot: Slot | undefined): RuleActivity {
  const iso = (timer: Timer | undefined): string | null => timer == null ? null : new Date(timer.at).toISOString()
  return {
    running: slot?.job != null,
    progress: slot?.job?.progress ?? null,
    startedAt: slot?.job != null ? new Date(slot.job.startedAt).toISOString() : null,
    waitingForWindow: iso(slot?.window),
    retryAt: iso(slot?.retry),
    nextRunAt: iso(slot?.cron)
  }
}
