import { join } from 'node:path'
import { openBlockStore } from '../../src/store/index.ts'
import type { BlockStore } from '../../src/store/index.ts'
import type { StoreLimits } from '../../src/store/constants.ts'
import { TestRepo } from '../store/helpers.ts'
import { FaultyDisk } from './faulty-disk.ts'
import type { CrashMode } from './faulty-disk.ts'
import { FaultyIndex } from './faulty-index.ts'

/** A test repository whose packs live on a `FaultyDisk` and whose index batches go through a `FaultyIndex`. */
export class FaultyRepo {
  readonly repo: TestRepo
  readonly disk: FaultyDisk
  readonly index: FaultyIndex

  private constructor (repo: TestRepo) {
    this.repo = repo
    this.disk = new FaultyDisk({ stash: join(repo.root, 'stash') })
    this.index = new FaultyIndex(this.disk, repo.packsDir)
    this.index.wrap(repo.db)
  }

  static async create (): Promise<FaultyRepo> {
    return new FaultyRepo(await TestRepo.create())
  }

  get packsDir (): string {
    return this.repo.packsDir
  }

  async open (limits: Partial<StoreLimits> = {}): Promise<BlockStore> {
    return await openBlockStore({ dir: this.repo.packsDir, db: this.repo.db, limits, ...this.disk.storeOptions })
  }

  /**
   * Crashes the disk and the index (see FaultyDisk.crash), lets `stores` of the old generation
   * close (they can no longer touch the disk), and reopens the LevelDB as a restarted process would.
   */
  async crash (mode: CrashMode, random?: () => number, stores: BlockStore[] = []): Promise<string> {
    const detail = await this.disk.crash(mode, random)
    for (const store of stores) await store.close().catch(() => {})
    await this.repo.reopenDb()
    this.index.wrap(this.repo.db)
    return detail
  }

  async cleanup (): Promise<void> {
    await this.repo.cleanup()
  }
}
