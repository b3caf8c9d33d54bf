/**
 * A replication rule lives on the sending Core: "send machine M (or its cluster) to peer P".
 * Every topology is a set of rules (docs/architecture.md, "Topologies").
 */
export interface RuleRecord {
  /** machine as the operator named it (`web01`, or `tenant/web01` on a Core holding several) */
  machine: string
  /** target peer id */
  to: string
  /** `after-backup` (default) or a cron expression (5 or 6 fields) */
  schedule: string
  /** daily start window `HH:MM-HH:MM` (local time; may wrap midnight), or null for any time */
  window: string | null
  paused: boolean
  /** older points travel on a seed drive; only new points go over the network */
  seedDrive: boolean
  /**
   * seed-drive rules: ids of the points that existed when the rule was made; they are left to
   * the seed drive (not sent) until it is consumed on the target or abandoned
   */
  seedPoints: string[]
  /** seed-drive rules: where the seed stands */
  seedState: 'outstanding' | 'consumed' | 'abandoned' | null
  /** bytes per second, or null for unlimited; with several streams, their total */
  limit: number | null
  /**
   * `--streams`: replicate streams that carry a point's blocks at once (1 to 16; absent in rules
   * stored before the option existed: 1)
   */
  streams?: number
  createdAt: string
  /**
   * the last job's outcome as stored: `running` from a job's start to its end (left by a crash,
   * a stop or a pause: unfinished work), `error` after a failure, `idle` after a success.
   * `replication list` shows `paused` for a paused rule, and the live state when the Core runs.
   */
  state: 'idle' | 'running' | 'paused' | 'error'
  lastPoint: string | null
  bytesSent: number
  error: string | null
  lastRunAt: string | null
  lastSuccessAt: string | null
}

export type NewRule = Pick<RuleRecord, 'machine' | 'to'> & Partial<Pick<RuleRecord, 'schedule' | 'window' | 'paused' | 'seedDrive' | 'seedPoints' | 'limit' | 'streams'>>
