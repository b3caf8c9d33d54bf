import { UserError } from '../errors.ts'

// Two failures, two classes, though they are shaped alike (a message and the figures behind
// it): the receiver and seed consume tell them apart by class, read their own fields (quota and
// stored bytes for an event; lock and until), and `name` travels in the API's JSON. Both are
// refusals (409): the request is valid, the tenant's quota or lock forbids it now.

/**
 * A transfer or a seed would take a tenant past its quota: refused before the block (or any part
 * of the seed) was stored. The message names the tenant, the quota and what is stored, and is
 * what the source's operator reads (it travels in the `error` frame).
 */
export class QuotaExceededError extends UserError {
  override name = 'QuotaExceededError'
  readonly tenant: string
  readonly quota: number
  readonly storedBytes: number
  /** bytes that were refused */
  readonly bytes: number
  constructor (message: string, details: { tenant: string, quota: number, storedBytes: number, bytes: number }) {
    super(message)
    this.tenant = details.tenant
    this.quota = details.quota
    this.storedBytes = details.storedBytes
    this.bytes = details.bytes
  }
}

/**
 * A peer asked to delete points its tenant's retention lock keeps (`remove-machine`): nothing
 * was removed. The message names the lock and until when it holds.
 */
export class RetentionLockedError extends UserError {
  override name = 'RetentionLockedError'
  readonly tenant: string
  readonly retentionLock: string
  /** points the lock keeps */
  readonly locked: number
  /** ISO time the last of them leaves the lock */
  readonly until: string
  constructor (message: string, details: { tenant: string, retentionLock: string, locked: number, until: string }) {
    super(message)
    this.tenant = details.tenant
    this.retentionLock = details.retentionLock
    this.locked = details.locked
    this.until = details.until
  }
}
