/**
 * The events of retention, tenant locks and quotas (docs/retention.md), in one place: each
 * event's type with its payload. Emitted through `emitRetentionEvent`, so a payload that does
 * not match its type does not compile.
 */
import type { EventLevel, EventSink } from './api.ts'

/** A policy as the CLI, the API and events show it: the `--keep-*` flags, `keepWithin` as written (`30d`). */
export interface PolicyView {
  keepLast?: number
  keepHourly?: number
  keepDaily?: number
  keepWeekly?: number
  keepMonthly?: number
  keepYearly?: number
  keepWithin?: string
}

export interface RetentionEvents {
  /** a rollup (after a backup or a received point, or `retention apply`) removed points */
  'retention.rollup': { machine: string, tenant: string, origin: string, policy: PolicyView, removed: string[], kept: number, locked: number }
  /** `drcore forget` removed points */
  'retention.forget': { machine: string, tenant: string, origin: string, policy: PolicyView, removed: string[], kept: number, locked: number }
  /** a rollup failed (the backup or transfer that triggered it stands; the next rollup tries again) */
  'retention.failed': { machine: string, tenant: string, origin: string, error: string }
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
}

export type RetentionEventType = keyof RetentionEvents

export function emitRetentionEvent<T extends RetentionEventType> (sink: EventSink, type: T, message: string, data: RetentionEvents[T], level: EventLevel = 'info'): void {
  sink.emit(type, message, data as unknown as Record<string, unknown>, level)
}
