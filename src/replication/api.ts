/**
 * The replication engine's public types (docs/protocol.md describes the exchanges behind them).
 * The scheduler drives `ReplicationEngine` (engine.ts) with these; the CLI prints them.
 */

/** Progress of one replication job, reported at most every 200 ms and at each point's end. */
export interface JobProgress {
  /** the point being sent */
  point: string
  machine: string
  /** 1-based position of the point among the job's points */
  pointIndex: number
  points: number
  /** block bytes sent so far in this job */
  bytesSent: number
  blocksSent: number
  /** bytes of the blocks the target lacks of the current point, once every "have?" is answered */
  bytesToSend?: number
}

/** What one replication job did. */
export interface JobResult {
  /** points the target acknowledged in this job, oldest first (complete, or orphans in seed mode) */
  sent: string[]
  /**
   * points left out on purpose: they came from the target or were taken by it, they wait for a
   * seed drive, they are incomplete on this Core, or the target declined them
   */
  skipped: string[]
  /** bytes of block frames sent (what `--limit` counts, besides the small messages) */
  bytesSent: number
  blocksSent: number
  seconds: number
  /** the newest point of the rule's machines that the target holds complete, or null */
  lastPoint: string | null
  /** points of the rule's machines the target still lacks (seed-drive points included) */
  pointsBehind: number
  /**
   * of those, the points this Core cannot send as they are: `damaged` (it lost blocks of them
   * too: drcore repair, or a backup of the same data, brings them back) or `incomplete` (an
   * orphan here, waiting for older data)
   */
  blocked: Array<{ point: string, why: 'damaged' | 'incomplete' }>
}

/** A recovery point from a peer was committed on this Core (new, or completed by a repair). */
export interface PointReceived {
  point: string
  machine: string
  /** peer id of the Core that took the point */
  origin: string
  /** the tenant it landed in (the sending peer's) */
  tenant: string
  /** peer id that sent it */
  from: string
}

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
  blocksReceived: number
  bytesReceived: number
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
}
