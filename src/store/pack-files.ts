import { mkdir, open, readdir, stat, unlink } from 'node:fs/promises'
import { syncDirectory } from '../fsx/sync-directory.ts'
import { READ_HANDLE_CACHE } from './constants.ts'

/**
 * The part of `fs.promises.FileHandle` the store uses. Tests inject handles that fail the way
 * disks do (ENOSPC on write, EIO on fsync).
 */
export interface PackFileHandle {
  writev (buffers: Uint8Array[], position: number): Promise<{ bytesWritten: number }>
  read (buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>
  datasync (): Promise<void>
  truncate (length: number): Promise<void>
  close (): Promise<void>
}

/** Opens a pack file; `flags` as for `fs.open` ('r', 'r+', 'wx'). */
export type OpenPackFile = (path: string, flags: string) => Promise<PackFileHandle>

/** A pack is created readable by its owner only, like every file of a repository. */
export const openPackFile: OpenPackFile = async (path, flags) => await open(path, flags, 0o600)

/**
 * The directory operations the store performs on its packs directory. A file's creation or
 * deletion is durable only once its directory is synced; tests inject a disk that models that,
 * and fails these calls.
 */
export interface PackDirectory {
  /** creates `dir` and its parents when missing */
  mkdir (dir: string): Promise<void>
  readdir (dir: string): Promise<string[]>
  /** the size of the file at `path` in bytes */
  size (path: string): Promise<number>
  unlink (path: string): Promise<void>
  /** makes file creations and deletions in `dir` durable */
  sync (dir: string): Promise<void>
}

export const packDirectory: PackDirectory = {
  // owner-only, like every folder of a repository
  mkdir: async (dir) => { await mkdir(dir, { recursive: true, mode: 0o700 }) },
  readdir: async (dir) => await readdir(dir),
  size: async (path) => (await stat(path)).size,
  unlink: async (path) => await unlink(path),
  sync: syncDirectory
}

/**
 * Writes `buffers` at `position` with vectored writes until every byte up to `end` is written. A
 * write that fills the disk returns short; the next one reports why (ENOSPC), which is what the
 * operator must read.
 */
export async function writeFully (handle: PackFileHandle, buffers: Uint8Array[], position: number, end: number): Promise<void> {
  let rest = buffers
  while (position < end) {
    const { bytesWritten } = await handle.writev(rest, position)
    if (bytesWritten <= 0) throw new Error(`the file system wrote nothing at byte ${position} of ${end}`)
    position += bytesWritten
    if (position === end) break
    // go on after what was written: skip whole buffers, then the written head of the next
    let skip = bytesWritten
    let i = 0
    while (skip >= rest[i].length) skip -= rest[i++].length
    rest = [rest[i].subarray(skip), ...rest.slice(i + 1)]
  }
}

/**
 * Reads `length` bytes at `position`, looping over short reads. Returns fewer bytes only when the
 * file ends first.
 */
export async function readFully (handle: PackFileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length)
  return buffer.subarray(0, await readInto(handle, buffer, 0, length, position))
}

/** Reads `length` bytes at `position` into `buffer` at `offset`; returns how many it got. */
export async function readInto (handle: PackFileHandle, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
  let done = 0
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, offset + done, length - done, position + done)
    if (bytesRead === 0) break
    done += bytesRead
  }
  return done
}

interface CachedHandle {
  handle: Promise<PackFileHandle>
  users: number
  evicted: boolean
}

/**
 * A small cache of read-only pack handles, least recently used closed first. A handle in use by a
 * read is closed only after that read returns.
 */
export class ReadHandles {
  readonly #open: OpenPackFile
  readonly #pathOf: (pack: number) => string
  readonly #capacity: number
  /** in least- to most-recently-used order (Map keeps insertion order) */
  readonly #handles = new Map<number, CachedHandle>()

  constructor (open: OpenPackFile, pathOf: (pack: number) => string, capacity = READ_HANDLE_CACHE) {
    this.#open = open
    this.#pathOf = pathOf
    this.#capacity = capacity
  }

  /** Reads `length` bytes at `position` of pack `pack`; fewer when the pack ends first. */
  async read (pack: number, position: number, length: number): Promise<Buffer> {
    const entry = this.#acquire(pack)
    try {
      return await readFully(await entry.handle, position, length)
    } finally {
      this.#release(pack, entry)
    }
  }

  /**
   * Drops the cached handle of a pack that is being deleted, so that its space is given back and
   * a later pack of the same number is not read through it; a read in progress finishes first.
   */
  forget (pack: number): void {
    const entry = this.#handles.get(pack)
    if (entry === undefined) return
    this.#handles.delete(pack)
    entry.evicted = true
    if (entry.users === 0) void closeQuietly(entry)
  }

  async close (): Promise<void> {
    const entries = [...this.#handles.values()]
    this.#handles.clear()
    for (const entry of entries) entry.evicted = true
    await Promise.all(entries.filter((e) => e.users === 0).map(closeQuietly))
  }

  #acquire (pack: number): CachedHandle {
    let entry = this.#handles.get(pack)
    if (entry === undefined) {
      entry = { handle: this.#open(this.#pathOf(pack), 'r'), users: 0, evicted: false }
      // a failed open (missing pack) must not stay cached
      entry.handle.catch(() => { if (this.#handles.get(pack) === entry) this.#handles.delete(pack) })
      this.#evictFor(1)
    } else {
      this.#handles.delete(pack)
    }
    this.#handles.set(pack, entry)
    entry.users++
    return entry
  }

  #release (pack: number, entry: CachedHandle): void {
    entry.users--
    if (entry.evicted && entry.users === 0) void closeQuietly(entry)
  }

  #evictFor (room: number): void {
    for (const [pack, entry] of this.#handles) {
      if (this.#handles.size + room <= this.#capacity) break
      this.#handles.delete(pack)
      entry.evicted = true
      if (entry.users === 0) void closeQuietly(entry)
    }
  }
}

async function closeQuietly (entry: CachedHandle): Promise<void> {
  try {
    await (await entry.handle).close()
  } catch {}
}
