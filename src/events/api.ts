/**
 * The Core's event log: pairing decisions, replication jobs, seed imports. Persisted in LevelDB
 * (sublevel `events`, keyed by a zero-padded sequence number) and pushed to live listeners
 * (`drcore events --follow`, the console's server-sent events).
 */
export interface CoreEvent {
  seq: number
  /** ISO time */
  at: string
  /** dotted type, e.g. `pairing.requested`, `pairing.approved`, `replication.finished` */
  type: string
  /** 'info' | 'warning' | 'error' */
  level: EventLevel
  /** one human sentence */
  message: string
  data: Record<string, unknown>
}

export type EventLevel = 'info' | 'warning' | 'error'

export interface EventSink {
  emit (type: string, message: string, data?: Record<string, unknown>, level?: EventLevel): void
}
