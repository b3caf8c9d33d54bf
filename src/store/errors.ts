import { FileSystemError, OperationalError, UserError } from '../errors.ts'

/**
 * Appending to or syncing a pack failed (disk full, I/O error). The flush that hit it indexed
 * nothing; the writer is unusable afterwards. One line, e.g. `no space left on device writing
 * pack /repo/packs/00000003.pack; free space and run the command again`.
 */
export class PackWriteError extends FileSystemError {
  override name = 'PackWriteError'
  constructor (path: string, cause: unknown) {
    super('writing pack', path, cause)
  }
}

/**
 * The bytes a writer was given for a block do not hash to its CID, checked on the write path
 * just before they would be stored. Nothing of the flush that found it is written or indexed,
 * and the writer refuses further use, so the point or transfer it belonged to is never
 * committed. From backup this is a bug (the bytes changed between hashing and storing), from a
 * peer or a seed drive it is data that was verified and then damaged in memory: either way,
 * never something to store.
 */
export class BlockIntegrityError extends Error {
  override name = 'BlockIntegrityError'
  readonly cid: string
  /** what is wrong with the bytes */
  readonly detail: string
  constructor (cid: string, length: number, detail = `the ${length} bytes given for it do not hash to its CID`) {
    super(`block ${cid} was not stored: ${detail}; nothing of this batch was committed`)
    this.cid = cid
    this.detail = detail
  }
}

/**
 * The pack directory holds pack files the index knows nothing about: the index was lost or
 * belongs to another repository. The store refuses to open rather than delete them.
 */
export class UnindexedPacksError extends OperationalError {
  override name = 'UnindexedPacksError'
  override readonly kind = 'damaged'
  constructor (dir: string, files: string[]) {
    const list = files.length > 3 ? `${files.slice(0, 3).join(', ')} and ${files.length - 3} more` : files.join(', ')
    super(`the block index has no record of pack files in ${dir} (${list}); the index was lost or belongs to another repository: rebuild it from the packs with drcore index rebuild`)
  }
}

/** A garbage collection is already running on this store: one at a time. */
export class CollectionRunningError extends UserError {
  override name = 'CollectionRunningError'
  constructor () {
    super('a prune is already running on this repository; wait for it to finish (its progress and result are in drcore events)')
  }
}
