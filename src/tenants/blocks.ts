import { CID } from 'multiformats/cid'
import { KeyedSerialQueue } from '../common/keyed-queue.ts'
import { KEY_SEP, prefixRange } from '../common/keys.ts'
import { MissingBlockError } from '../errors.ts'
import { cidKey } from '../points/blocks.ts'
import type { BlockSource } from '../points/closure.ts'
import { jsonSublevel } from '../store/index.ts'
import type { BlockStore, IndexOp, JsonSublevel, RootDb } from '../store/index.ts'

/** `tenant NUL cid` -> 1: the tenant delivered this block (its peer sent it, or a seed drive did). */
export const TENANT_BLOCKS_SUBLEVEL = 'tenant-blocks'
/** `tenant NUL point id` -> true: the tenant sees the point's whole closure (a cache, never stale). */
export const TENANT_COMPLETE_SUBLEVEL = 'tenant-complete'
/**
 * `tenant NUL point id` -> ISO time: this Core's retention (a policy, `forget`) removed the
 * point from the tenant; an offer of it again is declined (its source would otherwise send it
 * after every rollup removed it).
 */
export const TENANT_FORGOTTEN_SUBLEVEL = 'tenant-forgotten'
/** `tenant` -> `TenantUsage`: what the tenant's references add up to (its quota counts this). */
export const TENANT_USAGE_SUBLEVEL = 'tenant-usage'

/** The blocks a tenant references and the bytes they take in the packs (stored sizes). */
export interface TenantUsage {
  blocks: number
  bytes: number
}

/**
 * Which blocks each tenant may see on this Core.
 *
 * Storage keeps identical blocks once, whoever sent them; what a peer may learn is narrower: a
 * block counts as present for tenant T only when T delivered it (its bytes came from T's peer,
 * which therefore knew them) and it is stored. Every "have?", "want" and completeness answer
 * given to a peer goes through `view(store, T)`, so a block stored for tenant U looks exactly
 * like an absent one to T, whatever CIDs T asks about. T's source then sends it again; the store
 * dedups it and only T's reference is added (docs/protocol.md, "Tenants").
 *
 * A reference may be written before its block is durable (a crash then loses the block, and
 * the view, which also asks the store, says absent) or after (a crash then loses the reference,
 * and the block is sent once more): neither order can show T a block it did not send. The
 * references of a point's blocks stay when its records are removed; garbage collection drops
 * them with the blocks (`removalOps`, in the batch that removes the blocks' index entries, which
 * also drops the usage counters of the tenants concerned; prune then counts them again: `recount`).
 *
 * Each tenant's references add up to its usage (`usage`): the stored sizes of the blocks it
 * references, counted once per block when its first reference is written, in the same batch
 * (a quota is checked against it, docs/retention.md). References are written after their
 * blocks are indexed, so the stored size is known. Writes of one tenant's references and usage
 * run one at a time.
 *
 * This Core's own tenant ('') sees the whole store; it keeps no references and no usage.
 */
export class TenantBlocks {
  readonly #db: RootDb
  readonly #store: BlockStore
  readonly #refs: JsonSublevel<1>
  readonly #complete: JsonSublevel<true>
  readonly #usage: JsonSublevel<TenantUsage>
  readonly #forgotten: JsonSublevel<string>
  readonly #usageCache = new Map<string, TenantUsage>()
  readonly #writes = new KeyedSerialQueue()

  constructor (db: RootDb, store: BlockStore) {
    this.#db = db
    this.#store = store
    this.#refs = jsonSublevel<1>(db, TENANT_BLOCKS_SUBLEVEL)
    this.#complete = jsonSublevel<true>(db, TENANT_COMPLETE_SUBLEVEL)
    this.#usage = jsonSublevel<TenantUsage>(db, TENANT_USAGE_SUBLEVEL)
    this.#forgotten = jsonSublevel<string>(db, TENANT_FORGOTTEN_SUBLEVEL)
  }

  /**
   * Records that `tenant` delivered `cids` (one unsynced batch, with the usage), once `after`
   * (the flush that indexes them) is done.
   */
  async add (tenant: string, cids: CID[], options: { after?: () => Promise<void> } = {}): Promise<void> {
    await this.commitWithRefs(tenant, cids, async ops => {
      if (ops.length === 0) return
      await this.#db.batch(ops.map(op => ({ ...op, sublevel: this.#sublevelOf(op.sublevel) })) as any)
    }, options)
  }

  /**
   * Records that `tenant` delivered `cids` through `commit`, which writes the index ops it is
   * given (the references the tenant did not hold yet and its new usage) in one batch, e.g.
   * with a point's records (`BlockWriter.commit(ops)`). The blocks must be indexed when the
   * ops are made: `after` (their flush) runs first, while the references are looked up, so the
   * batch follows the flush at once (a Core stopping in between loses less). The tenant's other
   * reference writes wait until `commit` returns.
   */
  async commitWithRefs<T> (tenant: string, cids: CID[], commit: (ops: IndexOp[]) => Promise<T>, options: { after?: () => Promise<void> } = {}): Promise<T> {
    if (tenant === '' || cids.length === 0) {
      await options.after?.()
      return await commit([])
    }
    return await this.#writes.run(tenant, async () => {
      const unique = [...new Map(cids.map(cid => [cidKey(cid), cid])).values()]
      const [usage, existing] = await Promise.all([
        this.#usageOf(tenant),
        this.#refs.getMany(unique.map(cid => refKey(tenant, cid))),
        options.after?.()
      ])
      const fresh = unique.filter((_, i) => existing[i] === undefined)
      if (fresh.length === 0) return await commit([])
      const sizes = await Promise.all(fresh.map(async cid => await this.#store.storedSize(cid) ?? 0))
      const next = { blocks: usage.blocks + fresh.length, bytes: usage.bytes + sizes.reduce((n, size) => n + size, 0) }
      const ops: IndexOp[] = fresh.map(cid => ({ type: 'put', sublevel: TENANT_BLOCKS_SUBLEVEL, key: refKey(tenant, cid), value: 1 }))
      ops.push({ type: 'put', sublevel: TENANT_USAGE_SUBLEVEL, key: tenant, value: next })
      const result = await commit(ops)
      this.#usageCache.set(tenant, next)
      return result
    })
  }

  /** The blocks `tenant` references and their stored bytes. */
  async usage (tenant: string): Promise<TenantUsage> {
    if (tenant === '') return { blocks: 0, bytes: 0 }
    const cached = this.#usageCache.get(tenant)
    if (cached !== undefined) return { ...cached }
    return { ...await this.#writes.run(tenant, async () => await this.#usageOf(tenant)) }
  }

  /**
   * Counts a tenant's usage again from its references (dropping those whose block is gone): after
   * a garbage collection removed blocks (its batches drop the counters; a prune stopped before
   * it recounts leaves them to be counted on first use).
   */
  async recount (tenant: string): Promise<TenantUsage> {
    return await this.#writes.run(tenant, async () => {
      this.#usageCache.delete(tenant)
      await this.#usage.del(tenant)
      return await this.#usageOf(tenant, true)
    })
  }

  /** Inside the tenant's queue: its usage, counted from its references the first time. */
  async #usageOf (tenant: string, dropGone = false): Promise<TenantUsage> {
    const cached = this.#usageCache.get(tenant)
    if (cached !== undefined) return cached
    let usage = await this.#usage.get(tenant)
    if (usage === undefined) {
      // references written before usage was kept (or after a recount): count them once
      usage = { blocks: 0, bytes: 0 }
      const gone: string[] = []
      for await (const key of this.#refs.keys(prefixRange(tenant + KEY_SEP))) {
        const size = await this.#store.storedSize(CID.parse(key.slice(tenant.length + 1)))
        if (size === undefined) {
          if (dropGone) gone.push(key)
          continue
        }
        usage.blocks++
        usage.bytes += size
      }
      await this.#db.batch([
        ...gone.map(key => ({ type: 'del', sublevel: this.#refs, key })),
        { type: 'put', sublevel: this.#usage, key: tenant, value: usage }
      ] as any)
    }
    this.#usageCache.set(tenant, usage)
    return usage
  }

  #sublevelOf (name: string): JsonSublevel<any> {
    if (name === TENANT_BLOCKS_SUBLEVEL) return this.#refs
    if (name === TENANT_USAGE_SUBLEVEL) return this.#usage
    throw new Error(`not a tenant sublevel: ${name}`)
  }

  /** The tenants that hold references, in key order (one seek per tenant). */
  async tenants (): Promise<string[]> {
    const found: string[] = []
    let from: string | undefined
    for (;;) {
      const [key] = await this.#refs.keys(from === undefined ? { limit: 1 } : { gt: from, limit: 1 }).all()
      if (key === undefined) return found
      const tenant = key.slice(0, key.indexOf(KEY_SEP))
      found.push(tenant)
      // past every key of this tenant: the separator is below every character a tenant name has
      from = tenant + '\x01'
    }
  }

  /** The blocks `tenant` delivered (its references, whether or not the blocks are still stored). */
  async * refs (tenant: string): AsyncGenerator<CID> {
    for await (const key of this.#refs.keys({ gt: tenant + KEY_SEP, lt: tenant + '\x01' })) yield CID.parse(key.slice(tenant.length + 1))
  }

  /**
   * The index writes that drop every tenant's reference to `cids`: garbage collection commits
   * them in the batch that removes the blocks. The tenants' usage counters go in the same batch:
   * a counter is never lower than what its references hold (a quota never lets a tenant past it);
   * the next use counts it again from the references, or `recount` does at once.
   */
  static removalOps (tenants: readonly string[], cids: readonly CID[]): IndexOp[] {
    const ops: IndexOp[] = []
    for (const tenant of tenants) {
      if (tenant === '' || cids.length === 0) continue
      for (const cid of cids) ops.push({ type: 'del', sublevel: TENANT_BLOCKS_SUBLEVEL, key: refKey(tenant, cid) })
      ops.push({ type: 'del', sublevel: TENANT_USAGE_SUBLEVEL, key: tenant })
    }
    return ops
  }

  /** The store as `tenant` may see it. */
  view (store: BlockStore, tenant: string): BlockSource & { has: (cid: CID) => Promise<boolean> } {
    if (tenant === '') return { get: async cid => await store.get(cid), hasMany: async cids => await store.hasMany(cids), has: async cid => await store.has(cid) }
    const hasMany = async (cids: CID[]): Promise<boolean[]> => {
      const stored = await store.hasMany(cids)
      // only stored blocks need their reference looked up (a first transfer needs none)
      const asked = cids.filter((_, i) => stored[i])
      if (asked.length === 0) return stored
      const refs = await this.#refs.getMany(asked.map(cid => refKey(tenant, cid)))
      let j = 0
      return stored.map(present => present && refs[j++] !== undefined)
    }
    return {
      hasMany,
      has: async cid => (await hasMany([cid]))[0],
      get: async cid => {
        if (await this.#refs.get(refKey(tenant, cid)) === undefined) throw new MissingBlockError(cid.toString())
        return await store.get(cid)
      }
    }
  }

  /** true when `tenant` is known to see every block of the point (a cached positive answer). */
  async isComplete (tenant: string, point: string): Promise<boolean> {
    return await this.#complete.get(tenant + KEY_SEP + point) === true
  }

  /** Remembers that `tenant` sees the point's whole closure (true for as long as blocks are kept). */
  async setComplete (tenant: string, point: string): Promise<void> {
    await this.#complete.put(tenant + KEY_SEP + point, true)
  }

  /** Records that this Core's retention removed the point from the tenant (its offers are declined from now on). */
  async markForgotten (tenant: string, point: string): Promise<void> {
    await this.#forgotten.put(tenant + KEY_SEP + point, new Date().toISOString())
  }

  /** When this Core's retention removed the point from the tenant, or undefined. */
  async forgottenAt (tenant: string, point: string): Promise<string | undefined> {
    return await this.#forgotten.get(tenant + KEY_SEP + point)
  }

  /** Forgets the cached answer (the point's record left the tenant). */
  async forgetPoint (tenant: string, point: string): Promise<void> {
    await this.#complete.del(tenant + KEY_SEP + point)
  }
}

function refKey (tenant: string, cid: CID): string {
  return tenant + KEY_SEP + cid.toString()
}
