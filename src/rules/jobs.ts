/**
 * What a replication job of a rule reports, and the arrival of a point that rules may forward:
 * the contract between the replication engine, which runs jobs, and the scheduler, which asks
 * for them. It lives below both, so neither imports the other.
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
  /**
   * replicate streams the job opened: its session's, plus each extra stream that carried a
   * share of a point's blocks (`--streams`)
   */
  streams: number
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
