/**
 * The replication engine's public types (docs/protocol.md describes the exchanges behind them),
 * and a rule as `replication list` shows it. What a job reports is in rules/jobs.ts, shared
 * with the scheduler; the CLI prints these.
 */
import type { JobProgress, RuleRecord } from '../rules/index.ts'
import type { PeerRef } from '../api/peer-ref.ts'
export type { JobProgress, JobResult, PointReceived } from '../rules/index.ts'

/**
 * A transfer (a job, a fetch) reports progress at most this often: half as often as a local
 * operation (common/throttle.ts), as a job's progress also goes live to every console listening.
 */
export const TRANSFER_PROGRESS_INTERVAL_MS = 200

/** What `drcore fetch` did. */
export interface FetchResult {
  machine: string
  /** peer id the points came from */
  from: string
  /** point ids now recorded in this Core's own tenant, oldest first */
  points: string[]
  /** blocks received and stored */
  blocks: number
  /** bytes of those blocks */
  bytes: number
  seconds: number
}

/** Counters since the engine started (for tests and metrics). */
export interface EngineMetrics {
  /** messages sent on replicate and fetch streams, by type */
  messagesSent: Record<string, number>
  blocksSent: number
  bytesSent: number
  /** bytes of every frame sent on replicate streams by jobs (messages and blocks, before the stream's encryption) */
  frameBytesSent: number
  blocksReceived: number
  bytesReceived: number
  /** bytes of every frame sent and received on replicate, fetch and repair streams (length prefixes included) */
  wireBytesSent: number
  wireBytesReceived: number
  /** streams opened and served, by the protocol id negotiated (which version each peer speaks) */
  streams: Record<string, number>
}

/** Tunables; the defaults suit production, tests shrink them. */
export interface EngineOptions {
  /** the receiver makes what arrived durable after this many bytes ... (default 8 MiB) */
  flushBytes?: number
  /** ... or this many ms since its last flush (default 1000) */
  flushIntervalMs?: number
  /** CIDs per `have` and `want` (default and maximum 16,384) */
  batchSize?: number
  /** `have`s in flight before the first is answered (default 2) */
  pipeline?: number
  /** deadline in ms of each send and receive on a stream (default 60 s) */
  timeout?: number
  /** deadline in ms of the target's `ack` (it checks the point's closure first; default 10 min) */
  ackTimeout?: number
  /**
   * The versions of replicate, fetch and repair this Core serves and offers, preferred first
   * (default [2, 1]: stored-block frames, else raw ones). [1] is a Core from before version 2,
   * which tests of the negotiation need.
   */
  protocolVersions?: Array<1 | 2>
  /**
   * Replicate streams served at once per connection and protocol (default 32: two jobs of
   * `--streams 16`). Cores before `--streams` served 8, which tests of the fallback need.
   */
  inboundReplicateStreams?: number
}

/** One line of `drcore replication list --json` (the first eight fields are the contract). */
export interface RuleRow {
  machine: string
  /** the target */
  to: PeerRef
  /** `idle`, `running`, `paused` or `error` */
  state: 'idle' | 'running' | 'paused' | 'error'
  schedule: string
  /** newest point of the rule's machines the target holds complete, as of the last job */
  lastPoint: string | null
  /** points the target lacks; null while the Core is not running */
  pointsBehind: number | null
  /** block bytes sent by every job of the rule */
  bytesSent: number
  error: string | null
  window: string | null
  paused: boolean
  seedDrive: boolean
  seedState: RuleRecord['seedState']
  /** bytes per second, or null; with several streams, their total */
  limit: number | null
  /** replicate streams that carry a point's blocks at once (`--streams`) */
  streams: number
  createdAt: string
  lastRunAt: string | null
  lastSuccessAt: string | null
  /** the running job's progress, with its start and its rate so far (bytes per second) */
  job: (JobProgress & { startedAt: string, rate: number }) | null
  /** a trigger waits for the window to open at this time */
  waitingForWindow: string | null
  retryAt: string | null
  nextRunAt: string | null
}
