import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { PointIndex } from '../../src/points/point-index.ts'
import type { RootDb } from '../../src/store/sublevels.ts'
import type { BlockStore } from '../../src/store/api.ts'
import type { TreeShape } from '../../src/points/shape.ts'
import { MemoryBlockStore } from './memory-store.ts'
import { createStoreHarness } from './store-harness.ts'
import type { StoreKind } from './store-harness.ts'
import type { CID } from 'multiformats/cid'

/** Small chunks and fanouts, so a few hundred KiB make many chunks and several index layers. */
export const SMALL_CHUNKING = { minSize: 256, avgSize: 1024, maxSize: 4096 }
export const SMALL_SHAPE: TreeShape = { file: { min: 2, avg: 4, max: 8 }, dir: { min: 2, avg: 4, max: 8 }, maxNodeBytes: 256 * 1024 }

export interface TestRepo {
  dir: string
  db: RootDb
  store: MemoryBlockStore
  points: PointIndex
  privateKey: PrivateKey
  peerId: PeerId
  close: () => Promise<void>
}

/** A repository of this Core for tests: LevelDB in a temp dir, an in-memory block store. */
export async function testRepo (identity?: { privateKey: PrivateKey }): Promise<TestRepo> {
  const dir = await mkdtemp(join(tmpdir(), 'drcore-points-'))
  const db: RootDb = new Level(join(dir, 'index'))
  await db.open()
  const privateKey = identity?.privateKey ?? await generateKeyPair('Ed25519')
  return {
    dir,
    db,
    store: new MemoryBlockStore(db),
    points: new PointIndex(db),
    privateKey,
    peerId: peerIdFromPrivateKey(privateKey),
    close: async () => {
      await db.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
}

/** A repository of this Core for tests on either block store, with damage to stored copies. */
export interface StoreTestRepo extends Omit<TestRepo, 'store'> {
  kind: StoreKind
  store: BlockStore
  /** flips a byte of the block's stored copy */
  corrupt: (cid: CID) => Promise<void>
  /** forgets the block */
  remove: (cid: CID) => Promise<void>
}

/**
 * `testRepo` on the pack store or the memory store (see store-harness.ts). Tests of what stores
 * bytes run on both: the memory store copies at once and never compresses, so it cannot show
 * what the pack store's encoder does with a buffer its caller reuses.
 */
export async function testRepoOn (kind: StoreKind, identity?: { privateKey: PrivateKey }): Promise<StoreTestRepo> {
  const harness = await createStoreHarness(kind)
  const privateKey = identity?.privateKey ?? await generateKeyPair('Ed25519')
  return {
    kind,
    dir: harness.dir,
    db: harness.db,
    store: harness.store,
    points: new PointIndex(harness.db),
    privateKey,
    peerId: peerIdFromPrivateKey(privateKey),
    corrupt: harness.corrupt,
    remove: harness.remove,
    close: harness.cleanup
  }
}

/** Copies blocks (by CID string) from one store to another. */
export async function copyBlocks (from: BlockStore, to: BlockStore, cids: Iterable<string>): Promise<void> {
  const { CID } = await import('multiformats/cid')
  const writer = to.writer()
  for (const key of cids) {
    const cid = CID.parse(key)
    await writer.put(cid, await from.get(cid))
  }
  await writer.commit()
}

export async function tempDir (prefix = 'drcore-tree-'): Promise<string> {
  return await mkdtemp(join(tmpdir(), prefix))
}
