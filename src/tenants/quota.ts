import { formatBytes } from '../common/sizes.ts'
import type { TenantBlocks } from './blocks.ts'
import { QuotaExceededError } from './errors.ts'
import type { TenantSettings } from './settings.ts'

/**
 * Each tenant's quota (docs/retention.md, "Quotas"): the stored bytes of the blocks it
 * references (`TenantBlocks.usage`) may not grow past it. A block arriving for a tenant is
 * reserved before the store takes it (`reserve`, its uncompressed size: an upper bound of what
 * it adds) and released once its reference and usage are written, so blocks of transfers in
 * flight count too; a seed is checked against its descriptor's bytes before any part is read
 * (`check`). Past the quota: `QuotaExceededError`, and nothing of the refused block or seed
 * was stored. A block the tenant already references (stored for it before) counts once.
 */
export class TenantQuotas {
  readonly #settings: Pick<TenantSettings, 'get'>
  readonly #blocks: Pick<TenantBlocks, 'usage'>
  /** bytes admitted per tenant whose references are not written yet */
  readonly #reserved = new Map<string, number>()

  constructor (settings: Pick<TenantSettings, 'get'>, blocks: Pick<TenantBlocks, 'usage'>) {
    this.#settings = settings
    this.#blocks = blocks
  }

  /**
   * Admits `bytes` more for `tenant`, or throws `QuotaExceededError` saying `refused` (what was
   * not stored). The caller `release`s them once their references are written, or dropped.
   */
  async reserve (tenant: string, bytes: number, refused: string): Promise<void> {
    if (tenant === '') return
    const quota = (await this.#settings.get(tenant))?.quota ?? null
    const stored = (await this.#blocks.usage(tenant)).bytes
    // synchronous from here: two reservations cannot both take the last bytes
    const reserved = this.#reserved.get(tenant) ?? 0
    if (quota !== null && stored + reserved + bytes > quota) throw exceeded(tenant, quota, stored, reserved, bytes, refused)
    this.#reserved.set(tenant, reserved + bytes)
  }

  release (tenant: string, bytes: number): void {
    if (tenant === '' || bytes === 0) return
    const left = (this.#reserved.get(tenant) ?? 0) - bytes
    if (left > 0) this.#reserved.set(tenant, left)
    else this.#reserved.delete(tenant)
  }

  /** Throws `QuotaExceededError` when `bytes` more would take `tenant` past its quota (nothing is reserved). */
  async check (tenant: string, bytes: number, refused: string): Promise<void> {
    if (tenant === '') return
    const quota = (await this.#settings.get(tenant))?.quota ?? null
    if (quota === null) return
    const stored = (await this.#blocks.usage(tenant)).bytes
    const reserved = this.#reserved.get(tenant) ?? 0
    if (stored + reserved + bytes > quota) throw exceeded(tenant, quota, stored, reserved, bytes, refused)
  }
}

function exceeded (tenant: string, quota: number, stored: number, reserved: number, bytes: number, refused: string): QuotaExceededError {
  const arriving = reserved > 0 ? `, ${formatBytes(reserved)} arriving` : ''
  return new QuotaExceededError(`tenant ${tenant} would pass its quota of ${formatBytes(quota)} on this Core (${formatBytes(stored)} stored${arriving}, ${formatBytes(bytes)} more): ${refused}; ` +
    `the operator there can raise it (drcore tenant set ${tenant} --quota SIZE)`, { tenant, quota, storedBytes: stored, bytes })
}
