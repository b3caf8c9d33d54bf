import type { BigIntStats } from 'node:fs'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { compareNames, isSafeName } from '../points/nodes.ts'
import type { Entry } from '../points/nodes.ts'
import { DirTreeBuilder, dirEntries } from '../points/dir-tree.ts'
import type { GetBlock } from '../points/file-tree.ts'
import type { VolumeRef } from '../points/api.ts'
import { UserError } from '../errors.ts'
import { isFsError, mtimeOf } from './fs.ts'
import type { BackupSyncFs } from './fs.ts'
import { readFileContent } from './file-reader.ts'
import type { ReadContext } from './file-reader.ts'

/** Regular files read at once within a directory: small files are latency-bound (open, stat, close). */
const FILE_CONCURRENCY = 4
/** With synchronous small-file reads, the event loop gets a turn every this many files. */
const YIELD_EVERY = 32

export interface ArchiverContext extends ReadContext {
  /** reads the parent point's nodes; undefined when there is no usable parent */
  parentGet?: GetBlock
  rehash: boolean
  onFile: (path: string) => void
  /** an unchanged file's size, taken from the parent without reading */
  onReused: (bytes: number) => void
}

interface Subtree {
  cid: CID
  files: number
  bytes: number
}

/**
 * Turns volumes into trees of blocks. Directories are read in name order; each entry is built
 * from an lstat. A file whose size, mtime and inode equal its entry in the parent point keeps the
 * parent's content root without being opened (unless `rehash`).
 *
 * Unreadable files and directories are left out and listed in `skipped`; names that vanish
 * between readdir and lstat are left out silently; sockets, FIFOs and devices are left out (a
 * volume tree holds files, directories and symlinks).
 */
export class Archiver {
  readonly skipped: string[] = []
  readonly changed: string[] = []
  readonly #ctx: ArchiverContext
  #lastError = ''
  #sinceYield = 0

  constructor (ctx: ArchiverContext) {
    this.#ctx = ctx
  }

  /** Backs up one volume whose root stat (followed) is `st`. */
  async volume (path: string, st: BigIntStats, parent: VolumeRef | undefined): Promise<VolumeRef> {
    const meta = { mode: Number(st.mode) & 0o7777, mtime: mtimeOf(st) }
    if (st.isDirectory()) {
      const tree = await this.#dir(path, st, parent?.type === 'dir' ? parent.root : undefined)
      if (tree === undefined) throw new UserError(`cannot read volume ${path}: ${this.#lastError}`)
      return { root: tree.cid, type: 'dir', files: tree.files, bytes: tree.bytes, ...meta }
    }
    const previous: Entry | undefined = parent?.type === 'file'
      ? { name: '', type: 'file', cid: parent.root, size: parent.bytes, mode: parent.mode, mtime: parent.mtime, ino: parent.ino }
      : undefined
    const entry = await this.#file(path, '', st, previous)
    if (entry === undefined) throw new UserError(`cannot read volume ${path}: ${this.#lastError}`)
    return { root: entry.cid as CID, type: 'file', files: 1, bytes: entry.size, mode: entry.mode, mtime: entry.mtime, ino: entry.ino }
  }

  async #dir (path: string, st: BigIntStats, parentRoot: CID | undefined): Promise<Subtree | undefined> {
    const sync = this.#ctx.small?.fs
    let names: string[]
    try {
      names = sync !== undefined ? sync.readdir(path) : await this.#ctx.fs.readdir(path)
    } catch (err) {
      return this.#unreadable(path, err)
    }
    names = names.filter(isSafeName).sort(compareNames)
    const previous = await this.#parentEntries(parentRoot)
    const stats = sync !== undefined
      ? names.map(name => this.#lstatSync(sync, join(path, name)))
      : await mapLimit(names, 16, async name => await this.#lstat(join(path, name)))
    const entries: Array<Entry | undefined> = new Array(names.length)
    let files = 0
    let bytes = 0
    // Directories one at a time (depth first keeps memory to one path), files a few at a time.
    const fileIndexes: number[] = []
    for (let i = 0; i < names.length; i++) {
      const childStat = stats[i]
      if (childStat === undefined) continue
      const childPath = join(path, names[i])
      if (childStat.isDirectory()) {
        const prev = previous?.get(names[i])
        const sub = await this.#dir(childPath, childStat, prev?.type === 'dir' ? prev.cid : undefined)
        if (sub === undefined) continue
        entries[i] = { name: names[i], type: 'dir', ...metadata(childStat), size: sub.bytes, cid: sub.cid }
        files += sub.files
        bytes += sub.bytes
      } else if (childStat.isSymbolicLink()) {
        entries[i] = await this.#symlink(childPath, names[i], childStat)
        if (entries[i] !== undefined) files++
      } else if (childStat.isFile()) {
        fileIndexes.push(i)
      }
    }
    await mapLimit(fileIndexes, FILE_CONCURRENCY, async (i) => {
      const entry = await this.#file(join(path, names[i]), names[i], stats[i] as BigIntStats, previous?.get(names[i]))
      if (entry === undefined) return
      entries[i] = entry
      files++
      bytes += entry.size
    })
    const builder = new DirTreeBuilder((cid, b) => this.#ctx.writer.put(cid, b), this.#ctx.shape)
    for (const entry of entries) if (entry !== undefined) await builder.add(entry)
    const { cid } = await builder.finish()
    return { cid, files, bytes }
  }

  async #file (path: string, name: string, st: BigIntStats, previous: Entry | undefined): Promise<Entry | undefined> {
    const meta = metadata(st)
    const { mtime } = meta
    const ino = Number(st.ino)
    this.#ctx.onFile(path)
    if (!this.#ctx.rehash && previous?.type === 'file' && previous.cid !== undefined && previous.size === Number(st.size) &&
      previous.mtime[0] === mtime[0] && previous.mtime[1] === mtime[1] && previous.ino === ino) {
      this.#ctx.onReused(previous.size)
      return { name, type: 'file', ...meta, size: previous.size, cid: previous.cid, ino }
    }
    // small files are read synchronously: let timers, I/O and the zstd workers' answers in
    if (this.#ctx.small !== undefined && ++this.#sinceYield >= YIELD_EVERY) {
      this.#sinceYield = 0
      await new Promise(resolve => setImmediate(resolve))
    }
    try {
      const content = await readFileContent(this.#ctx, path, Number(st.size))
      if (content.changed) this.changed.push(path)
      return { name, type: 'file', ...meta, mtime: mtimeOf(content.stat), size: content.size, cid: content.root, ino: Number(content.stat.ino) }
    } catch (err) {
      return this.#unreadable(path, err)
    }
  }

  async #symlink (path: string, name: string, st: BigIntStats): Promise<Entry | undefined> {
    try {
      const sync = this.#ctx.small?.fs
      const target = sync !== undefined ? sync.readlink(path) : await this.#ctx.fs.readlink(path)
      return { name, type: 'symlink', ...metadata(st), size: Buffer.byteLength(target), target }
    } catch (err) {
      return this.#unreadable(path, err)
    }
  }

  #lstatSync (sync: BackupSyncFs, path: string): BigIntStats | undefined {
    try {
      return sync.lstat(path)
    } catch (err) {
      return this.#unreadable(path, err)
    }
  }

  async #lstat (path: string): Promise<BigIntStats | undefined> {
    try {
      return await this.#ctx.fs.lstat(path, { bigint: true })
    } catch (err) {
      return this.#unreadable(path, err)
    }
  }

  /** The parent point's entries of this directory by name, when there is a parent to compare with. */
  async #parentEntries (root: CID | undefined): Promise<Map<string, Entry> | undefined> {
    if (root === undefined || this.#ctx.parentGet === undefined) return undefined
    const map = new Map<string, Entry>()
    for await (const entry of dirEntries(this.#ctx.parentGet, root)) map.set(entry.name, entry)
    return map
  }

  #unreadable (path: string, err: unknown): undefined {
    if (!isFsError(err)) throw err
    this.#lastError = err.code as string
    if (err.code !== 'ENOENT') this.skipped.push(path)
    return undefined
  }
}

function metadata (st: BigIntStats): Pick<Entry, 'mode' | 'mtime' | 'uid' | 'gid'> {
  return { mode: Number(st.mode) & 0o7777, mtime: mtimeOf(st), uid: Number(st.uid), gid: Number(st.gid) }
}

/** Maps with at most `limit` calls in flight; results in input order. */
export async function mapLimit<T, R> (items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i])
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}
