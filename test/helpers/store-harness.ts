import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import type { CID } from 'multiformats/cid'
import { openBlockStore } from '../../src/store/index.ts'
import type { BlockStore, RootDb } from '../../src/store/index.ts'
import { blocksSublevel } from '../../src/store/sublevels.ts'
import { decodeLocation } from '../../src/store/location.ts'
import { packFileName } from '../../src/store/pack-format.ts'
import { MemoryBlockStore } from './memory-store.ts'

/** The two `BlockStore`s tests run against: pack files and LevelDB, or the in-memory stand-in. */
export type StoreKind = 'pack' | 'memory'

/**
 * A block store in a temporary directory, with the few things tests need beyond the
 * `BlockStore` interface: a restart, and damage to a stored copy.
 */
export interface StoreHarness {
  readonly kind: StoreKind
  /** whether stored copies are compressed (the pack store's zstd records) */
  readonly compresses: boolean
  readonly dir: string
  /** the repository's LevelDB (the pack store's index; index ops of both land here) */
  readonly db: RootDb
  readonly store: BlockStore
  /** Closes the store and opens it again over the same data, as a restarted process would. */
  reopen: () => Promise<BlockStore>
  /** Flips a byte in the middle of the block's stored copy (it must not be empty). */
  corrupt: (cid: CID) => Promise<void>
  /** Forgets the block, as a lost pack or index entry would. */
  remove: (cid: CID) => Promise<void>
  cleanup: () => Promise<void>
}

export async function createStoreHarness (kind: StoreKind): Promise<StoreHarness> {
  const dir = await mkdtemp(join(tmpdir(), `drcore-${kind}-store-`))
  const indexDir = join(dir, 'index')
  const packsDir = join(dir, 'packs')
  let db: RootDb = new Level(indexDir)
  await db.open()
  if (kind === 'memory') {
    const store = new MemoryBlockStore(db)
    return {
      kind,
      compresses: false,
      dir,
      db,
      store,
      reopen: async () => store,
      corrupt: async (cid) => { store.corrupt(cid) },
      remove: async (cid) => { store.delete(cid) },
      cleanup: async () => {
        await db.close()
        await rm(dir, { recursive: true, force: true })
      }
    }
  }
  let store = await openBlockStore({ dir: packsDir, db })
  return {
    kind,
    compresses: true,
    dir,
    get db () { return db },
    get store () { return store },
    reopen: async () => {
      await store.close()
      await db.close()
      db = new Level(indexDir)
      await db.open()
      store = await openBlockStore({ dir: packsDir, db })
      return store
    },
    corrupt: async (cid) => {
      const value = await blocksSublevel(db).get(cid.bytes)
      if (value === undefined) throw new Error(`cannot corrupt block ${cid}: it is not indexed`)
      const location = decodeLocation(value)
      if (location.storedLength === 0) throw new Error(`cannot corrupt block ${cid}: its stored copy is empty`)
      const handle = await open(join(packsDir, packFileName(location.pack)), 'r+')
      try {
        const at = location.offset + (location.storedLength >> 1)
        const byte = Buffer.alloc(1)
        await handle.read(byte, 0, 1, at)
        byte[0] ^= 0xff
        await handle.write(byte, 0, 1, at)
      } finally {
        await handle.close()
      }
    },
    remove: async (cid) => { await blocksSublevel(db).del(cid.bytes) },
    cleanup: async () => {
      await store.close()
      await db.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
}

export const STORE_KINDS: readonly StoreKind[] = ['pack', 'memory']
