import { tmpdir } from 'node:os'
import { UserError } from '../errors.ts'
import { openRepositoryFiles } from '../repo/index.ts'
import { openS3PackStorage, rebuildBlockIndex } from '../store/index.ts'
import type { RebuildResult, S3StorageConfig } from '../store/index.ts'
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

/**
 * Rebuilds the block index of the repository at `dir` from its packs alone (local or in the
 * bucket), with the repository closed to everything else.
 */
export async function rebuildRepositoryIndex (dir: string, onPack?: (done: number, total: number) => void): Promise<RebuildResult> {
  const files = await openRepositoryFiles(dir)
  try {
    const storage = await openPackStorage(files)
    try {
      return await rebuildBlockIndex({ storage, db: files.db, onPack })
    } finally {
      await storage.close()
    }
  } finally {
    await files.db.close()
  }
}
