import { debuglog } from 'node:util'
import { UnindexedPacksError } from './errors.ts'
import { FileSystemError, fileSystemFault } from '../errors.ts'
import { packFileName, parsePackFileName } from './pack-format.ts'
import type { PackStorage } from './storage.ts'
import type { JsonSublevel, RootDb } from './sublevels.ts'

const log = debuglog('drcore:store')

export interface RecoveredPacks {
  /** committed length of every pack that holds blocks */
  lengths: Map<number, number>
  /** the number the next new pack gets */
  nextPack: number
}

/**
 * Brings the pack directory back in line with the index after a crash: every pack is cut back to
 * its committed length (the bytes past it were never indexed), and a pack that never committed a
 * byte is deleted. A non-empty pack file the index has never heard of means the index is not this
 * directory's: the store refuses to open rather than delete it.
 */
export async function recoverPacks (storage: PackStorage, db: RootDb, packs: JsonSublevel<number>): Promise<RecoveredPacks> {
  const { location: dir, openFile, directory } = storage
  await directory.mkdir(dir)
  const files = new Map<number, { path: string, size: number }>()
  for (const name of await directory.readdir(dir)) {
    const pack = parsePackFileName(name)
    if (pack === undefined) continue
    const path = `${dir}/${name}`
    files.set(pack, { path, size: await directory.size(path) })
  }
  const committed = new Map<number, number>()
  for await (const [key, length] of packs.iterator()) committed.set(Number(key), length)

  const unknown = [...files].filter(([pack, file]) => !committed.has(pack) && file.size > 0)
  if (unknown.length > 0) throw new UnindexedPacksError(dir, unknown.map(([pack]) => packFileName(pack)))

  let changed = false
  for (const [pack, file] of files) {
    const length = committed.get(pack) ?? 0
    if (length === 0) {
      log('deleting pack %s: it never committed a block', file.path)
      await recovering('deleting the unused pack', file.path, async () => { await directory.unlink(file.path) })
      changed = true
    } else if (file.size > length) {
      log('truncating pack %s from %d to its committed length %d', file.path, file.size, length)
      await recovering('cutting the uncommitted tail of pack', file.path, async () => {
        const handle = await openFile(file.path, 'r+')
        try {
          await handle.truncate(length)
          await handle.datasync()
        } finally {
          await handle.close()
        }
      })
      changed = true
    }
  }
  // The deletions must be durable before the records go: a crash in between would bring back a
  // pack file with records that the index no longer knows, and the store would refuse to open.
  if (changed) await directory.sync(dir)
  const empty = [...committed].filter(([, length]) => length === 0).map(([pack]) => pack)
  if (empty.length > 0) {
    await db.batch(empty.map((pack) => ({ type: 'del' as const, sublevel: packs, key: packKey(pack) })), { sync: true })
    for (const pack of empty) committed.delete(pack)
  }
  const highest = Math.max(0, ...files.keys(), ...committed.keys(), ...empty)
  return { lengths: committed, nextPack: highest + 1 }
}

/**
 * Runs one step of recovery on a pack; a file-system failure becomes one line naming the pack
 * (nothing is lost: the step is done again at the next open).
 */
async function recovering (doing: string, path: string, step: () => Promise<void>): Promise<void> {
  try {
    await step()
  } catch (err) {
    if (fileSystemFault(err) !== undefined) throw new FileSystemError(doing, path, err, 'nothing was lost; the next open does it again')
    throw err
  }
}

/** Key of a pack in the `packs` sublevel: its 8-digit number, so keys sort numerically. */
export function packKey (pack: number): string {
  return String(pack).padStart(8, '0')
}
