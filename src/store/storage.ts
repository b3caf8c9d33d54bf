import { openPackFile, packDirectory } from './pack-files.ts'
import type { OpenPackFile, PackDirectory } from './pack-files.ts'
import { packFileName } from './pack-format.ts'
import type { StorageUsage } from './storage-usage.ts'

export type { StorageUsage } from './storage-usage.ts'

/**
 * Where a store keeps its pack files (docs/storage.md). The block store, its writers, verify,
 * salvage, recovery, rebuild and garbage collection reach packs only through this: open a pack
 * to append (`'wx'`), to read ranges (`'r'`) or to cut it back (`'r+'`); list, size and delete
 * packs; make creations and deletions durable. Two implementations: local files (below) and an
 * S3 bucket (src/store/s3/).
 *
 * `datasync()` on a handle opened for appending is the pack's seal: once it resolves, every byte
 * written so far is durable where the store keeps packs (fsynced on disk, or uploaded in full to
 * the bucket). The writer commits index entries only after it, so on either storage nothing is
 * indexed that is not durable.
 */
export interface PackStorage {
  /** where the packs live, as messages name it: a directory, or `s3://BUCKET/PREFIX` */
  readonly location: string
  readonly openFile: OpenPackFile
  readonly directory: PackDirectory
  /**
   * true when a pack is written once: its first seal uploads it and nothing is appended after
   * (an object cannot be appended to). Writers then start a new pack on every flush.
   */
  readonly sealOnce: boolean
  /** what the storage did since it opened, for `status` and /metrics (undefined: local disk) */
  usage (): StorageUsage | undefined
  close (): Promise<void>
}

/** The path (or object URL) of pack `pack` under `location`. */
export function packPath (location: string, pack: number): string {
  return `${location}/${packFileName(pack)}`
}

/** Packs as files in a local directory, fsynced: the storage of every repository without `--storage`. */
export function localPackStorage (dir: string, options: { openFile?: OpenPackFile, directory?: PackDirectory } = {}): PackStorage {
  return {
    location: dir.endsWith('/') && dir.length > 1 ? dir.slice(0, -1) : dir,
    openFile: options.openFile ?? openPackFile,
    directory: options.directory ?? packDirectory,
    sealOnce: false,
    usage: () => undefined,
    close: async () => {}
  }
}
