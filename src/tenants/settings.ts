import { UsageError } from '../errors.ts'
import { jsonSublevel } from '../store/index.ts'
import type { JsonSublevel, RootDb } from '../store/index.ts'

/** What this Core's operator decided for a tenant (sublevel `tenants`, key: the tenant). */
export interface TenantRecord {
  tenant: string
  /** most bytes the tenant's blocks may take here (stored sizes); null: no quota */
  quota: number | null
  /**
   * how long a point of the tenant stays undeletable after it was received here, as written
   * (`30d`, `1y`; a retention duration); null: no lock
   */
  retentionLock: string | null
  updatedAt: string
}

/** One line of `drcore tenant list --json` (the first six fields are the contract). */
export interface TenantRow {
  tenant: string
  /** the peers approved into it */
  peers: Array<{ peerId: string, name: string | null }>
  points: number
  /** stored bytes of the blocks it references: what its quota counts */
  storedBytes: number
  /** bytes, or null for none */
  quota: number | null
  /** `30d`, or null for none */
  retentionLock: string | null
  blocks: number
  /** its points the lock keeps now, and when the last of them leaves it */
  lockedPoints: number
  lockedUntil: string | null
}

/** `drcore tenant set`: undefined leaves a setting as it is, null removes it. */
export interface TenantChanges {
  quota?: number | null
  retentionLock?: string | null
}

/**
 * The quota and retention lock of each tenant. Only this Core's operator sets them (the
 * `tenantSet` operation); no wire message reads or changes them, so a peer can neither lift nor
 * lengthen a lock, its own or another tenant's. Read on every block a peer sends (the quota),
 * so the records are kept in memory too.
 */
export class TenantSettings {
  readonly #records: JsonSublevel<TenantRecord>
  readonly #cache = new Map<string, TenantRecord | null>()

  constructor (db: RootDb) {
    this.#records = jsonSublevel<TenantRecord>(db, 'tenants')
  }

  async get (tenant: string): Promise<TenantRecord | undefined> {
    const cached = this.#cache.get(tenant)
    if (cached !== undefined) return cached ?? undefined
    const record = await this.#records.get(tenant)
    this.#cache.set(tenant, record ?? null)
    return record
  }

  async list (): Promise<TenantRecord[]> {
    return await this.#records.values().all()
  }

  /** Changes a tenant's settings; returns the record before and after. */
  async set (tenant: string, changes: TenantChanges): Promise<{ previous: TenantRecord | undefined, record: TenantRecord }> {
    if (tenant === '') throw new UsageError("this Core's own tenant has no quota or retention lock: name a peer's tenant (drcore tenant list)")
    const previous = await this.get(tenant)
    const record: TenantRecord = {
      tenant,
      quota: changes.quota === undefined ? previous?.quota ?? null : changes.quota,
      retentionLock: changes.retentionLock === undefined ? previous?.retentionLock ?? null : changes.retentionLock,
      updatedAt: new Date().toISOString()
    }
    await this.#records.put(tenant, record)
    this.#cache.set(tenant, record)
    return { previous, record }
  }
}
