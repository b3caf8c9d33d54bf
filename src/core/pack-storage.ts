import { tmpdir } from 'node:os'
import { UserError } from '../errors.ts'
import { openRepositoryFiles } from '../repo/index.ts'
import { decodeManifest, PointIndex, pointRecord } from '../points/index.ts'
import { openBlockStore, openS3PackStorage, rebuildBlockIndex } from '../store/index.ts'
import type { BlockStore, RebuildResult, S3StorageConfig } from '../store/index.ts'
import { openPackStorage } from './services.ts'

/**
 * Before `init --storage` writes anything: the bucket answers with these credentials and the
 * prefix holds no packs (another repository's, which this one would refuse to open).
 */
export async function checkNewPrefix (config: S3StorageConfig): Promise<void> {
  const storage = await openS3PackStorage({ ...config, stagingDir: tmpdir(), owner: '', noLock: true })
  try {
    const packs = (await storage.directory.readdir(storage.location)).filter((name) => name.endsWith('.pack'))
    if (packs.length > 0) {
      throw new UserError(`${storage.location} already holds ${packs.length} pack files of another repository: give this one another prefix (a Core that lost its index rebuilds it with drcore index rebuild)`)
    }
  } finally {
    await storage.close()
  }
}

export interface IndexRebuild extends RebuildResult {
  /** this Core's own points found among the blocks (signed manifests) and recorded again */
  pointsRecovered: number
  /** manifests of other Cores' points: their tenant is not in the packs, they come back by replication */
  foreignManifests: number
}

/**
 * Rebuilds the block index of the repository at `dir` from its packs alone (local or in the
 * bucket), with the repository closed to everything else; then records again this Core's own
 * points whose records were lost with the index: every signed manifest among the blocks whose
 * origin is this Core (its signature checked). Without them the next prune would take their
 * blocks for dead.
 */
export async function rebuildRepositoryIndex (dir: string, onPack?: (done: number, total: number) => void): Promise<IndexRebuild> {
  const files = await openRepositoryFiles(dir)
  try {
    const storage = await openPackStorage(files)
    let store: BlockStore | undefined
    try {
      const rebuilt = await rebuildBlockIndex({ storage, db: files.db, onPack })
      store = await openBlockStore({ storage, db: files.db })
      return { ...rebuilt, ...await recoverOwnPoints(store, new PointIndex(files.db), files.peerId.toString()) }
    } finally {
      // the store closes its storage
      if (store !== undefined) await store.close()
      else await storage.close()
    }
  } finally {
    await files.db.close()
  }
}

const DAG_CBOR = 0x71

async function recoverOwnPoints (store: BlockStore, points: PointIndex, self: string): Promise<{ pointsRecovered: number, foreignManifests: number }> {
  let pointsRecovered = 0
  let foreignManifests = 0
  for await (const { cid } of store.entries()) {
    if (cid.code !== DAG_CBOR) continue
    let signed
    try {
      signed = await decodeManifest(await store.get(cid), cid)
    } catch {
      continue // a node, not a manifest (or a damaged one: verify names it)
    }
    if (signed.manifest.origin !== self) {
      foreignManifests++
      continue
    }
    if (await points.get(cid.toString(), '') !== undefined) continue
    // complete as far as this step knows: the verify that follows checks every closure
    await points.record(pointRecord(signed, { tenant: '', complete: true }))
    pointsRecovered++
  }
  return { pointsRecovered, foreignManifests }
}
