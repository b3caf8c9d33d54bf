import type { CID } from 'multiformats/cid'
import { KEY_SEP } from '../common/keys.ts'
import { MissingBlockError } from '../errors.ts'
import type { BlockSource } from '../points/closure.ts'
import { jsonSublevel } from '../store/index.ts'
import type { BlockStore, IndexOp, JsonSublevel, RootDb } from '../store/index.ts'

/** `tenant NUL cid` -> 1: the tenant delivered this block (its peer sent it, or a seed drive did). */
export const TENANT_BLOCKS_SUBLEVEL = 'tenant-blocks'
/** `tenant NUL point id` -> true: the tenant sees the point's whole closure (a cache, never stale). */
export const TENANT_COMPLETE_SUBLEVEL = 'tenant-complete'

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
 * references of a point's blocks stay when its records are removed; garbage collection, which
 * does not exist yet, will drop both.
 *
 * This Core's own tenant ('') sees the whole store.
 */
export class TenantBlocks {
  readonly #refs: JsonSublevel<1>
  readonly #complete: JsonSublevel<true>

  constructor (db: RootDb) {
    this.#refs = jsonSublevel<1>(db, TENANT_BLOCKS_SUBLEVEL)
    this.#complete = jsonSublevel<true>(db, TENANT_COMPLETE_SUBLEVEL)
  }

  /**
   * The index writes that record `tenant` delivering `cids`, to commit with the blocks
   * (`BlockWriter.commit(ops)`): how a seed drive's import makes its blocks visible to the
   * tenant it was consumed into.
   */
  static ops (tenant: string, cids: Iterable<CID>): IndexOp[] {
    const ops: IndexOp[] = []
    if (tenant === '') return ops
    for (const cid of cids) ops.push({ type: 'put', sublevel: TENANT_BLOCKS_SUBLEVEL, key: refKey(tenant, cid), value: 1 })
    return ops
  }

  /** Records that `tenant` delivered `cids` (one unsynced batch). */
  async add (tenant: string, cids: CID[]): Promise<void> {
    if (tenant === '' || cids.length === 0) return
    await this.#refs.batch(cids.map(cid => ({ type: 'put' as const, key: refKey(tenant, cid), value: 1 as const })))
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

  /** Forgets the cached answer (the point's record left the tenant). */
  async forgetPoint (tenant: string, point: string): Promise<void> {
    await this.#complete.del(tenant + KEY_SEP + point)
  }
}

function refKey (tenant: string, cid: CID): string {
  return tenant + KEY_SEP + cid.toString()
}
