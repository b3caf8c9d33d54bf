import type { PointRecord } from '../points/api.ts'
import { add, parseDuration, subtract } from './duration.ts'

/**
 * A point's time for retention, on this Core's clock: when this Core received it, for every point
 * that came from elsewhere (a peer, a seed drive, a fetch); when it was taken, for this Core's
 * own backups. Never what a source claims: a forged or wrong `createdAt` on a received point
 * changes nothing. A record without either (none is written so) takes `createdAt`, never later
 * than `now`.
 */
export function retentionTime (record: PointRecord, now: number): number {
  if (record.receivedAt !== undefined) {
    const received = Date.parse(record.receivedAt)
    if (Number.isFinite(received)) return received
  }
  const created = Date.parse(record.createdAt)
  return Number.isFinite(created) ? Math.min(created, now) : now
}

/** What a tenant's retention lock keeps of some of its points, now. */
export interface LockedPoints {
  /** ids of the points the lock keeps */
  points: Set<string>
  /** ISO time the last of them leaves the lock; null when it keeps none */
  until: string | null
}

/**
 * The points of a tenant (never this Core's own, '') that its retention lock keeps at `now`:
 * those received less than `lock` ago. `lock` is the tenant's setting as written (`30d`), or
 * null for none.
 */
export function lockedPoints (records: readonly PointRecord[], lock: string | null, now: number): LockedPoints {
  const points = new Set<string>()
  if (lock === null) return { points, until: null }
  const duration = parseDuration(lock, 'retention lock')
  const since = subtract(now, duration)
  let last = Number.NEGATIVE_INFINITY
  for (const record of records) {
    if (record.tenant === '') continue
    const time = retentionTime(record, now)
    if (time <= since) continue
    points.add(record.point)
    last = Math.max(last, time)
  }
  return { points, until: points.size === 0 ? null : new Date(add(last, duration)).toISOString() }
}
