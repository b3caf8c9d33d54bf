import type { CID } from 'multiformats/cid'
import { readAhead } from '../common/concurrency.ts'
import { CorruptBlockError, MissingBlockError } from '../errors.ts'
import type { BlockStore, StoredBlock } from '../store/api.ts'

/** Block reads in flight, so decompressing and rehashing the next blocks overlaps sending one. */
const READ_AHEAD = 8

/**
 * The blocks to send, read ahead and yielded in the order of `cids`. `bytes` is undefined for
 * a block this Core's copy of is gone or damaged (a damaged copy is quarantined by the read, so
 * the next writer of its bytes heals it: never sent as it is), and for one `allowed` holds back.
 */
export function readableBlocks (store: BlockStore, cids: CID[], allowed: (index: number) => boolean = () => true): AsyncGenerator<{ cid: CID, bytes: Uint8Array | undefined }> {
  return readAhead(cids, READ_AHEAD, async (cid, i) => ({ cid, bytes: allowed(i) ? await readable(store, cid) : undefined }))
}

/**
 * As `readableBlocks`, each block in its stored form (`BlockStore.getStoredMany`: proved, not
 * decoded; neighbours in a pack read together).
 */
export async function * readableStored (store: BlockStore, cids: CID[], allowed: (index: number) => boolean = () => true): AsyncGenerator<{ cid: CID, stored: StoredBlock | undefined }> {
  const allow = cids.map((_, i) => allowed(i))
  const wanted = cids.filter((_, i) => allow[i])
  const reads = store.getStoredMany(wanted)[Symbol.asyncIterator]()
  try {
    for (let i = 0; i < cids.length; i++) {
      if (!allow[i]) {
        yield { cid: cids[i], stored: undefined }
        continue
      }
      const next = await reads.next()
      if (next.done === true) throw new Error(`the store gave ${i} of ${cids.length} blocks asked for`)
      yield { cid: cids[i], stored: next.value.stored }
    }
  } finally {
    await reads.return?.()
  }
}

/** A block's bytes, or undefined when this Core's copy is gone or damaged (see `readableBlocks`). */
export async function readable (store: BlockStore, cid: CID): Promise<Uint8Array | undefined> {
  return await orUndefined(async () => await store.get(cid))
}

async function orUndefined<T> (read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read()
  } catch (err) {
    if (err instanceof CorruptBlockError || err instanceof MissingBlockError) return undefined
    throw err
  }
}

/**
 * The blocks to send, each in its stored form, in the order the store holds them (one
 * sequential pass over its packs, neighbours read together), for a sender to whom the order
 * does not matter; `stored` is undefined for a block whose copy here is gone or damaged.
 */
export async function * storedInStoreOrder (store: BlockStore, cids: CID[]): AsyncGenerator<{ cid: CID, stored: StoredBlock | undefined }> {
  for await (const { cid, stored } of store.getStoredMany(cids, { order: 'store' })) yield { cid, stored }
}
