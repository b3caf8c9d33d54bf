import { whyUnreadable } from './reasons.ts'
import type { BigIntStats } from 'node:fs'
import type { CID } from 'multiformats/cid'
import type { Entry, Xattr } from '../points/nodes.ts'
import { childPath as joinPath, compareNames, isSafeName, nameBytes, nameOf, showPath } from '../points/names.ts'
import { DirTreeBuilder, dirEntries } from '../points/dir-tree.ts'
import type { GetBlock } from '../points/file-tree.ts'
import type { VolumeRef } from '../points/api.ts'
import { splitDev } from '../fsx/index.ts'
import { OperationalError } from '../errors.ts'
import { mapLimit } from '../common/concurrency.ts'
import { ctimeOf, isFsError, mtimeOf } from './fs.ts'
import type { BackupSyncFs } from './fs.ts'
import { readFileContent } from './file-reader.ts'
import type { ReadContext } from './file-reader.ts'

/** Regular files read at once within a directory: small files are latency-bound (open, stat, close). */
const FILE_CONCURRENCY = 4
/** With synchronous small-file reads, the event loop gets a turn every this many files. */
const YIELD_EVERY = 32
/**
 * Extended attributes of one entry beyond this many bytes are not kept (the entry is, and is
 * listed as skipped): a directory node must stay under its byte budget. Linux file systems
 * rarely allow more than one 4 KiB block of them per inode.
 */
const XATTRS_MAX_BYTES = 128 * 1024

/** Something a backup did not store, and why (the CLI exits 3 and the point is partial). */
export interface Skipped {
  /** the path, readable: bytes that are not UTF-8 as `\xHH` (see names.ts) */
  path: string
  /** why, as a sentence: `permission denied: user backup may not read it; …`, `unsupported type: socket` … */
  reason: string
  /** the system's error code when reading failed (`EACCES`), for scripts; null otherwise */
  code: string | null
}

export interface ArchiverContext extends ReadContext {
  /** reads the parent point's nodes; undefined when there is no usable parent */
  parentGet?: GetBlock
  rehash: boolean
  onFile: (path: Buffer) => void
  /** an unchanged file's size, taken from the parent without reading */
  onReused: (bytes: number) => void
}

interface Subtree {
  cid: CID
  files: number
  bytes: number
}

type Metadata = Pick<Entry, 'mode' | 'mtime' | 'ctime' | 'uid' | 'gid' | 'xattrs'>

/**
 * Turns volumes into trees of blocks. Directories are read as bytes, in the byte order of their
 * names; each entry is built from an lstat and the path's extended attributes. A file whose
 * size, mtime, ctime and inode equal its entry in the parent point keeps the parent's content
 * root without being opened (unless `rehash`).
 *
 * Nothing is left out silently: an entry that cannot be read, a socket, or attributes that
 * cannot be read are listed in `skipped` with the reason. Only names that vanish between readdir
 * and lstat are passed over (they are no longer there to back up).
 */
export class Archiver {
  readonly skipped: Skipped[] = []
  readonly changed: string[] = []
  readonly #ctx: ArchiverContext
  #lastError = ''
  #sinceYield = 0
  /** hard links of the volume being walked: `dev:ino` to its id and, once read, its entry */
  #links = new Map<string, { id: number, entry?: Entry }>()

  constructor (ctx: ArchiverContext) {
    this.#ctx = ctx
  }

  /** Backs up one volume whose root stat (followed) is `st`. */
  async volume (path: string, st: BigIntStats, parent: VolumeRef | undefined): Promise<VolumeRef> {
    this.#links = new Map()
    const root = Buffer.from(path)
    if (st.isDirectory()) {
      const tree = await this.#dir(root, st, parent?.type === 'dir' ? parent.root : undefined)
      if (tree === undefined) throw new OperationalError(`cannot read volume ${path}: ${whyUnreadable(this.#lastError)}`)
      return volumeRef({ ...this.#metadata(root, st), root: tree.cid, type: 'dir', files: tree.files, bytes: tree.bytes })
    }
    const previous: Entry | undefined = parent?.type === 'file'
      ? { name: 'volume', type: 'file', cid: parent.root, size: parent.bytes, mode: parent.mode, mtime: parent.mtime, ino: parent.ino, ctime: parent.ctime }
      : undefined
    const entry = await this.#file(root, 'volume', st, previous)
    if (entry === undefined) throw new OperationalError(`cannot read volume ${path}: ${whyUnreadable(this.#lastError)}`)
    return volumeRef({
      root: entry.cid as CID,
      type: 'file',
      files: 1,
      bytes: entry.size,
      mode: entry.mode,
      mtime: entry.mtime,
      ino: entry.ino,
      ctime: entry.ctime,
      uid: entry.uid,
      gid: entry.gid,
      xattrs: entry.xattrs
    })
  }

  async #dir (path: Buffer, st: BigIntStats, parentRoot: CID | undefined): Promise<Subtree | undefined> {
    const sync = this.#ctx.small?.fs
    let raw: Buffer[]
    try {
      raw = sync !== undefined ? sync.readdir(path) : await this.#ctx.fs.readdir(path)
    } catch (err) {
      return this.#unreadable(path, err)
    }
    const children: Array<{ name: Entry['name'], path: Buffer }> = []
    for (const bytes of raw) {
      const name = nameOf(bytes)
      const childPath = joinPath(path, bytes)
      if (!isSafeName(name)) {
        this.#skip(childPath, 'invalid name (longer than 255 bytes)')
        continue
      }
      children.push({ name, path: childPath })
    }
    children.sort((a, b) => compareNames(a.name, b.name))
    const previous = await this.#parentEntries(parentRoot)
    const stats = sync !== undefined
      ? children.map(c => this.#lstatSync(sync, c.path))
      : await mapLimit(children, 16, async c => await this.#lstat(c.path))
    const entries: Array<Entry | undefined> = new Array(children.length)
    let files = 0
    let bytes = 0
    // Directories one at a time (depth first keeps memory to one path), files a few at a time.
    const fileIndexes: number[] = []
    for (let i = 0; i < children.length; i++) {
      const childStat = stats[i]
      if (childStat === undefined) continue
      const { name, path: childPath } = children[i]
      if (childStat.isDirectory()) {
        const prev = previous?.get(nameKey(name))
        const sub = await this.#dir(childPath, childStat, prev?.type === 'dir' ? prev.cid : undefined)
        if (sub === undefined) continue
        entries[i] = { name, type: 'dir', ...this.#metadata(childPath, childStat), size: sub.bytes, cid: sub.cid }
        files += sub.files
        bytes += sub.bytes
      } else if (childStat.isFile()) {
        // hard link ids in walk order, before files are read in parallel
        if (childStat.nlink > 1n) this.#linkOf(childStat)
        fileIndexes.push(i)
      } else if (childStat.isSymbolicLink()) {
        entries[i] = await this.#symlink(childPath, name, childStat)
        if (entries[i] !== undefined) files++
      } else if (childStat.isFIFO() || childStat.isCharacterDevice() || childStat.isBlockDevice()) {
        const type = childStat.isFIFO() ? 'fifo' : childStat.isCharacterDevice() ? 'char' : 'block'
        const entry: Entry = { name, type, ...this.#metadata(childPath, childStat), size: 0 }
        if (type !== 'fifo') entry.rdev = splitDev(childStat.rdev)
        entries[i] = entry
        files++
      } else {
        this.#skip(childPath, `unsupported type: ${childStat.isSocket() ? 'socket' : 'unknown'}`)
      }
    }
    await mapLimit(fileIndexes, FILE_CONCURRENCY, async (i) => {
      const { name, path: childPath } = children[i]
      const entry = await this.#file(childPath, name, stats[i] as BigIntStats, previous?.get(nameKey(name)))
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

  async #file (path: Buffer, name: Entry['name'], st: BigIntStats, previous: Entry | undefined): Promise<Entry | undefined> {
    const link = st.nlink > 1n ? this.#linkOf(st) : undefined
    const ino = Number(st.ino)
    this.#ctx.onFile(path)
    const unchanged = (e: Entry | undefined): e is Entry => e?.type === 'file' && e.cid !== undefined && e.size === Number(st.size) &&
      sameTime(e.mtime, mtimeOf(st)) && e.ctime !== undefined && sameTime(e.ctime, ctimeOf(st)) && e.ino === ino
    // another link to an inode this backup read already, unchanged since
    const known = link?.entry !== undefined && unchanged(link.entry) && !this.#ctx.rehash ? link.entry : undefined
    const reuse = known ?? (!this.#ctx.rehash && unchanged(previous) ? previous : undefined)
    let entry: Entry
    if (reuse !== undefined) {
      if (known === undefined) this.#ctx.onReused(reuse.size)
      entry = { name, type: 'file', ...this.#metadata(path, st), size: reuse.size, cid: reuse.cid, ino }
    } else {
      // small files are read synchronously: let timers, I/O and the zstd workers' answers in
      if (this.#ctx.small !== undefined && ++this.#sinceYield >= YIELD_EVERY) {
        this.#sinceYield = 0
        await new Promise(resolve => setImmediate(resolve))
      }
      try {
        const content = await readFileContent(this.#ctx, path, Number(st.size))
        if (content.changed) this.changed.push(showPath(path))
        // times and inode as they were before reading: a change during the read is read next time
        entry = { name, type: 'file', ...this.#metadata(path, content.stat), size: content.size, cid: content.root, ino: Number(content.stat.ino) }
      } catch (err) {
        return this.#unreadable(path, err)
      }
    }
    if (link !== undefined) {
      entry.hardlink = link.id
      link.entry ??= entry
    }
    return entry
  }

  async #symlink (path: Buffer, name: Entry['name'], st: BigIntStats): Promise<Entry | undefined> {
    try {
      const sync = this.#ctx.small?.fs
      const target = sync !== undefined ? sync.readlink(path) : await this.#ctx.fs.readlink(path)
      return { name, type: 'symlink', ...this.#metadata(path, st), size: target.length, target: nameOf(target) }
    } catch (err) {
      return this.#unreadable(path, err)
    }
  }

  /** The id of an inode with several links, assigned in walk order within the volume. */
  #linkOf (st: BigIntStats): { id: number, entry?: Entry } {
    const key = `${st.dev}:${st.ino}`
    let link = this.#links.get(key)
    if (link === undefined) this.#links.set(key, link = { id: this.#links.size + 1 })
    return link
  }

  /** Mode, times, owner and extended attributes of an entry. */
  #metadata (path: Buffer, st: BigIntStats): Metadata {
    const meta: Metadata = { mode: Number(st.mode) & 0o7777, mtime: mtimeOf(st), ctime: ctimeOf(st), uid: Number(st.uid), gid: Number(st.gid) }
    const xattrs = this.#xattrs(path)
    if (xattrs !== undefined) meta.xattrs = xattrs
    return meta
  }

  #xattrs (path: Buffer): Xattr[] | undefined {
    let raw: Array<[Buffer, Buffer]>
    try {
      raw = this.#ctx.fs.xattrs(path)
    } catch (err) {
      if (!isFsError(err)) throw err
      if (err.code !== 'ENOENT') this.#skip(path, `extended attributes unreadable: ${whyUnreadable(err.code as string)}`, err.code as string)
      return undefined
    }
    if (raw.length === 0) return undefined
    let total = 0
    for (const [name, value] of raw) total += name.length + value.length
    if (total > XATTRS_MAX_BYTES) {
      this.#skip(path, `extended attributes too large: ${total} bytes (at most ${XATTRS_MAX_BYTES})`)
      return undefined
    }
    return raw.map(([name, value]): Xattr => [nameOf(name), new Uint8Array(value)]).sort((a, b) => compareNames(a[0], b[0]))
  }

  #lstatSync (sync: BackupSyncFs, path: Buffer): BigIntStats | undefined {
    try {
      return sync.lstat(path)
    } catch (err) {
      return this.#unreadable(path, err)
    }
  }

  async #lstat (path: Buffer): Promise<BigIntStats | undefined> {
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
    for await (const entry of dirEntries(this.#ctx.parentGet, root)) map.set(nameKey(entry.name), entry)
    return map
  }

  #skip (path: Buffer, reason: string, code: string | null = null): void {
    this.skipped.push({ path: showPath(path), reason, code })
  }

  #unreadable (path: Buffer, err: unknown): undefined {
    if (!isFsError(err)) throw err
    this.#lastError = err.code as string
    if (err.code !== 'ENOENT') this.#skip(path, whyUnreadable(err.code as string), err.code as string)
    return undefined
  }
}

/** A map key for a name: its bytes, one character per byte. */
function nameKey (name: Entry['name']): string {
  return nameBytes(name).toString('latin1')
}

function sameTime (a: [number, number], b: [number, number]): boolean {
  return a[0] === b[0] && a[1] === b[1]
}

/** A volume reference without the optional fields that are absent. */
function volumeRef (ref: VolumeRef): VolumeRef {
  for (const key of Object.keys(ref) as Array<keyof VolumeRef>) if (ref[key] === undefined) delete ref[key]
  return ref
}
