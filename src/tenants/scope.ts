import { CID } from 'multiformats/cid'
import { missingBlocks } from '../points/closure.ts'
import { loadManifest } from '../points/manifest.ts'
import type { MachineRecord, PointRecord, SignedPoint } from '../points/api.ts'
import type { PointIndex } from '../points/point-index.ts'
import type { BlockSource } from '../points/closure.ts'
import type { BlockStore } from '../store/api.ts'
import type { PointSummary } from '../protocol/index.ts'
import type { TenantBlocks } from './blocks.ts'

export interface ScopeDeps {
  store: BlockStore
  points: PointIndex
  tenants: TenantBlocks
}

/**
 * Everything a peer may learn from this Core, seen from its tenant: the tenant's points and the
 * blocks it delivered. The replicate and fetch handlers answer only through a scope, so another
 * tenant's points and blocks are answered exactly as absent ones.
 */
export class TenantScope {
  readonly tenant: string
  readonly blocks: BlockSource & { has: (cid: CID) => Promise<boolean> }
  readonly #deps: ScopeDeps

  constructor (deps: ScopeDeps, tenant: string) {
    this.#deps = deps
    this.tenant = tenant
    this.blocks = deps.tenants.view(deps.store, tenant)
  }

  /** The tenant's machines named `machine` (one per origin), or all of them for null. */
  async machines (machine: string | null): Promise<MachineRecord[]> {
    const all = await this.#deps.points.machines({ tenant: this.tenant })
    return all.filter(m => m.tenant === this.tenant && (machine === null || m.machine === machine))
  }

  /** The tenant's points of `machine` (or of every machine), by machine, then oldest first. */
  async points (machine: string | null): Promise<PointRecord[]> {
    const out: PointRecord[] = []
    for (const m of await this.machines(machine)) out.push(...await this.#deps.points.points(m))
    return out
  }

  /** The tenant's record of a point, or undefined (also when another tenant holds it). */
  async point (id: string): Promise<PointRecord | undefined> {
    return await this.#deps.points.get(id, this.tenant)
  }

  /**
   * Whether the tenant sees the point's whole closure, and how many blocks it lacks. A point
   * complete in the store may still be incomplete for the tenant (blocks another tenant sent):
   * then the tenant's closure is walked through its view. Positive answers are cached.
   */
  async completeness (record: PointRecord, signed?: SignedPoint, options: { exact?: boolean } = {}): Promise<{ complete: boolean, missing: number }> {
    if (this.tenant === '') return { complete: record.complete, missing: record.missing }
    // the tenant sees a subset of the store: a point incomplete in the store (never whole here,
    // or damaged since) is incomplete for every tenant, whatever an older cached answer says
    if (!record.complete && options.exact !== true) return { complete: false, missing: Math.max(record.missing, 1) }
    if (record.complete && await this.#deps.tenants.isComplete(this.tenant, record.point)) return { complete: true, missing: 0 }
    const point = signed ?? await loadManifest(this.#deps.store, record.point)
    const { count } = await missingBlocks(this.blocks, point, { limit: 0 })
    if (count === 0) await this.#deps.tenants.setComplete(this.tenant, record.point)
    return { complete: count === 0, missing: count }
  }

  /** The wire summary of the tenant's points of `machine` (or of every machine). */
  async summaries (machine: string | null): Promise<PointSummary[]> {
    const out: PointSummary[] = []
    for (const record of await this.points(machine)) {
      out.push(summaryOf(record, (await this.completeness(record)).complete))
    }
    return out
  }
}

export function summaryOf (record: PointRecord, complete: boolean): PointSummary {
  return {
    point: CID.parse(record.point),
    machine: record.machine,
    cluster: record.cluster,
    origin: record.origin,
    seq: record.seq,
    kind: record.kind,
    parent: record.parent === null ? null : CID.parse(record.parent),
    createdAt: new Date(record.createdAt).toISOString(),
    complete
  }
}
