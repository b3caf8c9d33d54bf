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

/** As `readableBlocks`, each block in its stored form (`BlockStore.getStored`: proved, not decoded). */
export function readableStored (store: BlockStore, cids: CID[], allowed: (index: number) => boolean = () => true): AsyncGenerator<{ cid: CID, stored: StoredBlock | undefined }> {
  return readAhead(cids, READ_AHEAD, async (cid, i) => ({ cid, stored: allowed(i) ? await orUndefined(async () => await store.getStored(cid)) : undefined }))
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
