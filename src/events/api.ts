/**
 * The Core's events: what each one is called and what it carries. The event log (log.ts) keeps
 * them (sublevel `events`) and hands them to live listeners: `drcore events --follow`, the
 * console's server-sent events, the metrics. Every event type is a key of `EventMap` (kept in
 * the log) or of `LiveEventMap` (live only), so an emitter cannot misspell a type or leave out a
 * field, and a listener reads typed data instead of checking shapes at run time. This module
 * imports nothing: every service may emit, and the payloads are spelled out here rather than
 * borrowed from the services that fill them.
 */

/** Who made a pairing decision: this Core's operator, or the peer. */
export type DecidedBy = 'local' | 'remote'

/** Data of the pairing events: the peer, and who decided. */
export interface PairingData {
  peerId: string
  name: string | null
  by: DecidedBy
  /** the tenant a peer was approved or allowed into */
  tenant?: string | null
  /** approved because the operator had allowed it before it asked */
  allowed?: true
  /** peer.renamed: the name it had before */
  previous?: string | null
  /** peer.address-removed: the address forgotten */
  address?: string
}

/** The events `PairingData` goes with. */
export type PairingEventType = 'pairing.requested' | 'pairing.approved' | 'pairing.denied' | 'pairing.ignored' | 'pairing.allowed' | 'peer.removed' | 'peer.renamed' | 'peer.address-removed'

/** A point left out of a replication job because this Core cannot send it as it is. */
export interface BlockedPoint {
  point: string
  why: 'damaged' | 'incomplete'
}

/** Data of `backup.finished`: what `drcore backup` reports. */
export interface BackupFinishedData {
  point: string
  machine: string
  kind: 'base' | 'incremental'
  parent: string | null
  seq: number
  files: number
  bytes: number
  newBytes: number
  storedBytes: number
  skipped: Array<{ path: string, reason: string }>
  partial: boolean
  changed: string[]
  healed: number
  repaired: string[]
  seconds: number
}

/** A retention policy as the CLI, the API and events show it: the `--keep-*` flags, `keepWithin` as written (`30d`). */
export interface PolicyView {
  keepLast?: number
  keepHourly?: number
  keepDaily?: number
  keepWeekly?: number
  keepMonthly?: number
  keepYearly?: number
  keepWithin?: string
}

/** Data of `retention.rollup` and `retention.forget`: what a policy removed of one machine. */
export interface RetentionRemovedData {
  machine: string
  tenant: string
  origin: string
  policy: PolicyView
  removed: string[]
  kept: number
  /** kept points the tenant's retention lock keeps */
  locked: number
}

/** Data of `prune.finished`: what `drcore prune --json` reports (the first five fields are the contract). */
export interface PruneFinishedData {
  blocksRemoved: number
  bytesFreed: number
  packsRewritten: number
  packsDeleted: number
  seconds: number
  [more: string]: unknown
}

/** Events kept in the log, by type. docs/protocol.md and docs/replication.md list them for operators. */
export interface EventMap {
  'core.started': { url: string }
  'core.stopped': Record<string, never>

  'backup.finished': BackupFinishedData
  /** a backup stopped by its operator (Ctrl-C): no point was taken */
  'backup.cancelled': { machine: string }
  /** level `error` when verify found damage */
  'verify.finished': { blocks: number, corrupt: number, quarantined: number, lost: number }
  'repair.finished': { points: number, whole: number, stillDamaged: number, reinstated: number, foundLocally: number, fetched: number, quarantined: number }

  'pairing.requested': PairingData
  'pairing.approved': PairingData
  'pairing.denied': PairingData
  'pairing.ignored': PairingData
  'pairing.allowed': PairingData
  'peer.removed': PairingData
  'peer.renamed': PairingData
  'peer.address-removed': PairingData
  /** a connection or stream of a peer refused by the trust checks (rate-limited per peer and protocol) */
  'peer.refused': { peerId: string, protocol: string }

  // replication, on the source
  'replication.started': { machine: string, to: string, points: number }
  /** `streams`: the replicate streams the job opened (its session's, and each extra stream of `--streams`) */
  'replication.finished': { machine: string, to: string, points: number, sent: string[], bytes: number, blocks: number, seconds: number, streams: number, lastPoint: string | null, pointsBehind: number, blocked: BlockedPoint[] }
  /** `error` is `cancelled` for a job that was paused, removed or stopped (level `warning`) */
  'replication.failed': { machine: string, to: string, error: string, points: number, sent: string[], bytes: number, blocks: number, seconds: number }
  'replication.declined': { machine: string, to: string, point: string, reason: string }
  'replication.seed-consumed': { seed: string, machine: string, to: string, points: number }
  'replication.remote-deleted': { machine: string, to: string, machines: string[], removed: number }
  'replication.fetched': { machine: string, from: string, points: string[], blocks: number, bytes: number, seconds: number }
  // the scheduler
  'replication.deferred': { machine: string, to: string, window: string, opensAt: string, reason: string }
  'replication.retry': { machine: string, to: string, attempt: number, delayMs: number, error: string }
  'replication.scheduler-error': Record<string, never>
  // replication, on the target
  'replication.received': { peerId: string, point: string, machine: string, origin: string, tenant: string, complete: boolean, missing: number, blocks: number, bytes: number, newBlocks: number, seconds: number }
  'replication.rejected': { peerId: string, tenant: string, point: string | null, reason: string }
  /** `reason` and `code` (e.g. ENOSPC) when this Core's disk stopped the transfer */
  'replication.interrupted': { peerId: string, tenant: string, point: string, blocks: number, bytes: number, kept: boolean, reason?: string, code?: string | null }
  'replication.removed': { peerId: string, tenant: string, machine: string, removed: number }

  // retention (docs/retention.md)
  /** a rollup (after a backup or a received point, `retention apply`, before a scheduled prune) removed points */
  'retention.rollup': RetentionRemovedData
  /** `drcore forget` removed points */
  'retention.forget': RetentionRemovedData
  /** a rollup failed (the backup or transfer that triggered it stands; the next rollup tries again); null fields: every machine */
  'retention.failed': { machine: string | null, tenant: string | null, origin: string | null, error: string }
  /** a standing policy was set or cleared (machine null: the default) */
  'retention.policy-set': { machine: string | null, tenant: string | null, origin: string | null, policy: PolicyView | null }
  /** this Core's operator changed a tenant's quota or retention lock */
  'tenant.changed': { tenant: string, quota: number | null, retentionLock: string | null, previousQuota: number | null, previousRetentionLock: string | null }
  /** a transfer or a seed was refused: it would have taken the tenant past its quota */
  'tenant.quota-exceeded': { tenant: string, quota: number, storedBytes: number, bytes: number, peerId: string | null, point: string | null, seed: string | null }
  /** a peer asked to delete points its tenant's retention lock keeps (on the target) */
  'tenant.delete-refused': { tenant: string, peerId: string, machine: string, retentionLock: string, locked: number, until: string }
  /** the target refused `replication remove --delete-remote` (on the source) */
  'replication.remote-delete-refused': { machine: string, to: string, reason: string }
  'prune.finished': PruneFinishedData
  'prune.failed': { reason: string }

  'seed.created': { seed: string, target: string | null, dir: string, parts: number, points: number, blocks: number, bytes: number, rules: Array<{ machine: string, to: string }> }
  'seed.abandoned': { seed: string, target: string | null, rules: Array<{ machine: string, to: string }> }
  /** `parts`: the part numbers imported now; `errors`: how many problems (the operation lists them) */
  'seed.consumed': { seed: string, source: string, tenant: string | null, parts: number[], missingParts: number[], blocks: number, imported: number, rejected: number, pointsCompleted: string[], errors: number }
}

/** Data of `replication.progress`: a running job's last progress report. */
export interface ReplicationProgressData {
  machine: string
  to: string
  point: string
  pointIndex: number
  points: number
  bytesSent: number
  blocksSent: number
  bytesToSend?: number
  /** bytes per second since the job started */
  rate: number
  startedAt: string
  /** the job ended (this is its last report) */
  done: boolean
}

/** Events delivered to live listeners only, never kept (they would push real events out of the log). */
export interface LiveEventMap {
  'replication.progress': ReplicationProgressData
}

/** Every event type a listener may see. */
export type AllEvents = EventMap & LiveEventMap
export type EventType = keyof EventMap
export type LiveEventType = keyof LiveEventMap
export type AnyEventType = keyof AllEvents

export type EventLevel = 'info' | 'warning' | 'error'

/** One event of type `T`. */
export interface CoreEventOf<T extends AnyEventType> {
  /** its place in the log; 0 for live-only events */
  seq: number
  /** ISO time */
  at: string
  /** dotted type, e.g. `pairing.requested`, `replication.finished` */
  type: T
  level: EventLevel
  /** one human sentence */
  message: string
  data: AllEvents[T]
}

/** Any event: a union discriminated by `type`, so `if (e.type === 'x')` narrows `e.data`. */
export type CoreEvent = { [T in AnyEventType]: CoreEventOf<T> }[AnyEventType]

/** Where services report what they did: the Core's `EventLog`. Emitting never fails the caller. */
export interface EventSink {
  emit<T extends EventType> (type: T, message: string, data: EventMap[T], level?: EventLevel): void
}

/** Live-only reports (job progress): delivered to listeners, not kept. */
export interface LiveEventSink {
  publish<T extends LiveEventType> (type: T, message: string, data: LiveEventMap[T], level?: EventLevel): void
}

/** Listening: to one type, with its data typed, or to every event (the event stream, the overview's change time). */
export interface EventSource {
  on<T extends AnyEventType> (type: T, listener: (event: CoreEventOf<T>) => void): () => void
  subscribe (listener: (event: CoreEvent) => void): () => void
}
