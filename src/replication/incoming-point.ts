import type { CID } from 'multiformats/cid'
import { MalformedError } from '../errors.ts'
import { cidKey } from '../points/blocks.ts'
import { missingBlocks } from '../points/closure.ts'
import { pointRecord } from '../points/point-index.ts'
import type { PointIndex } from '../points/point-index.ts'
import type { SignedPoint } from '../points/api.ts'
import type { BlockStore, StoredBlock } from '../store/api.ts'
import { BlockIntake } from './block-intake.ts'
import type { IntakeOptions, IntakeQuota } from './block-intake.ts'
import type { TenantBlocks, TenantScope } from '../tenants/index.ts'
import { bitmapOf, MAX_CIDS_PER_MESSAGE } from '../protocol/index.ts'

/**
 * Blocks a source was told to send and has not sent yet. A correct source has at most a few
 * `have` batches outstanding (it pipelines them); past this bound it is asking without sending.
 */
const MAX_OUTSTANDING = 8 * MAX_CIDS_PER_MESSAGE

export interface IncomingDeps {
  store: BlockStore
  points: PointIndex
  tenants: TenantBlocks
  intake: IntakeOptions
  /** each tenant's quota: a block that would pass it is refused before it is stored */
  quotas?: IntakeQuota
}

/** What `done` committed. */
export interface Committed {
  /** the tenant sees the point's whole closure */
  complete: boolean
  /** blocks of the closure the tenant lacks */
  missing: number
  /** the point was not in the tenant before */
  isNew: boolean
  /** the point was in the tenant as an orphan and is complete now */
  completed: boolean
}

/**
 * One offered point on the target, from an accepted `offer` to `done`: answers "have?" within
 * the tenant, takes the blocks it asked for (each once), and commits the manifest and the point
 * record after every block.
 */
export class IncomingPoint {
  readonly signed: SignedPoint
  readonly from: string
  readonly scope: TenantScope
  readonly started = performance.now()
  readonly #deps: IncomingDeps
  readonly #intake: BlockIntake
  /** blocks reported missing and not received yet, by `cidKey` */
  readonly #outstanding = new Set<string>()

  constructor (deps: IncomingDeps, scope: TenantScope, signed: SignedPoint, from: string) {
    this.#deps = deps
    this.scope = scope
    this.signed = signed
    this.from = from
    this.#intake = new BlockIntake(deps.store, deps.tenants, scope.tenant, deps.intake, { quota: deps.quotas, from })
  }

  get stats (): BlockIntake['stats'] {
    return this.#intake.stats
  }

  /**
   * The `have-reply` bitmap: a CID is missing when the tenant does not see it and it is not
   * already on its way (asked for in an earlier batch of this offer), so each block is sent once.
   */
  async have (cids: CID[]): Promise<Uint8Array> {
    if (this.#outstanding.size + cids.length > MAX_OUTSTANDING) {
      throw new MalformedError(`peer ${this.from} keeps asking "have?" without sending the ${this.#outstanding.size} blocks it was told are missing`)
    }
    const present = await this.scope.blocks.hasMany(cids)
    const missing: number[] = []
    for (let i = 0; i < cids.length; i++) {
      if (present[i]) continue
      const key = cidKey(cids[i])
      if (this.#outstanding.has(key)) continue
      this.#outstanding.add(key)
      missing.push(i)
    }
    return bitmapOf(cids.length, missing)
  }

  /** Takes a block it reported missing: raw (version 1) or in its stored form (version 2). */
  async block (cid: CID, bytes: Uint8Array | StoredBlock): Promise<void> {
    if (!this.#outstanding.delete(cidKey(cid))) {
      throw new MalformedError(`peer ${this.from} sent block ${cid}, which this Core did not report missing`)
    }
    await this.#intake.put(cid, bytes)
  }

  /**
   * Commits the point: blocks durable first, then the manifest with the point's record in one
   * index batch. Completeness is computed twice when they differ: for the tenant (what the
   * `ack` tells the peer) and for the store (what restore on this Core may use).
   */
  async done (): Promise<Committed> {
    const { store, points, tenants } = this.#deps
    const tenant = this.scope.tenant
    const id = this.signed.id.toString()
    this.#outstanding.clear()
    await this.#intake.settle()
    const seen = await missingBlocks(this.scope.blocks, this.signed, { limit: 0 })
    const stored = seen.count === 0 ? seen : await missingBlocks(store, this.signed, { limit: 0 })
    const complete = stored.count === 0
    const existing = await points.get(id, tenant)
    const ops = existing !== undefined
      ? []
      : points.recordOps(pointRecord(this.signed, { tenant, complete, missing: stored.count, receivedFrom: this.from, receivedAt: new Date().toISOString() }))
    await this.#intake.commit([{ cid: this.signed.id, bytes: this.signed.bytes }], ops)
    const records = await points.records(id)
    if (records.some(r => r.complete !== complete || r.missing !== stored.count)) await points.setCompleteness(id, complete, stored.count)
    if (seen.count === 0) await tenants.setComplete(tenant, id)
    // good copies of quarantined blocks arrived: other points that lost them may be whole again
    if (this.#intake.stats.healed > 0) await points.recheckOrphans(store)
    return {
      complete: seen.count === 0,
      missing: seen.count,
      isNew: existing === undefined,
      completed: existing !== undefined && !existing.complete && complete
    }
  }

  /** Blocks reported missing and not received yet. */
  get outstanding (): number {
    return this.#outstanding.size
  }

  /**
   * The stream carried a share of the point's blocks (docs/protocol.md, "Parallel streams"), and
   * the source closed it cleanly with nothing outstanding: every block of the share is made
   * durable and visible to the tenant, and the intake closes. The point itself is committed by
   * the `done` of the stream that offered it first. A store failure is thrown, so the source
   * learns of it on this stream.
   */
  async endShare (): Promise<void> {
    await this.#intake.settle()
    if (!await this.#intake.close()) throw new Error(`the store failed while closing a share of point ${this.signed.id}`)
  }

  /** The transfer ended before `done`: keep what arrived (false: the store failed), commit nothing else. */
  async abandon (): Promise<boolean> {
    return await this.#intake.close()
  }
}
