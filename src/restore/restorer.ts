import { lstat, lchown, link, mkdir, open, readdir, rename, rm, rmdir, symlink, unlink, chmod } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { dirname, join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { mapLimit, readAhead } from '../common/concurrency.ts'
import { Throttle } from '../common/throttle.ts'
import { FileSystemError, InvalidInputError, isSystemError, MalformedError, OrphanPointError, UserError } from '../errors.ts'
import { dirEntries } from '../points/dir-tree.ts'
import { fileChunks } from '../points/file-tree.ts'
import { countMissing, missingBlocks } from '../points/closure.ts'
import type { Entry } from '../points/nodes.ts'
import { childPath, nameBytes, showPath } from '../points/names.ts'
import type { Name } from '../points/names.ts'
import { lutimesNs, mknod, setXattr } from '../fsx/index.ts'
import type { SpecialKind } from '../fsx/index.ts'
import { isRaw } from '../points/blocks.ts'
import type { PointRecord, SignedPoint } from '../points/api.ts'
import type { BlockStore } from '../store/api.ts'
import { select, volumeEntry } from './select.ts'
import type { RestoreDeps, RestoreOptions, RestoreProgress, RestoreResult } from './api.ts'
import { makeDirs } from '../fsx/make-dirs.ts'

/** Chunk reads in flight while writing a file: the store decompresses and rehashes on other threads. */
const READ_AHEAD = 8
const FILE_CONCURRENCY = 4

/**
 * Restores from a recovery point.
 *
 * Volume level (no `path`): every volume, or the one named, is restored as `dest/<volume>`: a
 * directory volume as that directory, a file volume (an image) as that file. The point must be
 * complete; an orphan is refused with `OrphanPointError` naming what is missing.
 *
 * File level (`path`): the file or subtree at `path` is restored as `dest/<its name>`. This works
 * in an orphan when that data is present, and fails naming how much is missing otherwise.
 *
 * Nothing that exists is overwritten. Each file is written to a temporary name beside its final
 * one (mode 0600) and renamed when complete, so a block that is missing or corrupt (every read
 * is rehashed) fails the restore, naming the CID, without leaving a wrong file under a real
 * name. Zero runs are not written, so sparse files and images come back sparse. Owners (as
 * root), modes, extended attributes and mtimes (to the nanosecond) are set after contents,
 * directories last and deepest first; symlinks keep their target; hard links within a target
 * are links again; FIFOs and device nodes (as root) are made. What the destination cannot take
 * (attributes it does not support, devices as non-root) is one warning per kind.
 */
export async function restore (deps: RestoreDeps, opts: RestoreOptions): Promise<RestoreResult> {
  const started = performance.now()
  const s = await select(deps, opts)
  const point = s.record.point
  let targets: Array<{ entry: Entry, path: Buffer }>
  if (opts.path === undefined) {
    const names = opts.volume !== undefined ? [s.volume as string] : Object.keys(s.signed.manifest.volumes)
    await refuseOrphan(deps, s.signed, names, s.record)
    targets = names.map(name => ({ entry: volumeEntry(name, s.signed.manifest.volumes[name]), path: Buffer.from(join(opts.dest, name)) }))
  } else {
    if (s.entry === undefined) throw new InvalidInputError('restore --path needs a path inside a volume')
    const entry = s.entry
    if (!s.record.complete && entry.cid !== undefined) {
      let nodes = 0
      const missing = await countMissing(deps.store, [entry.cid], cid => { if (!isRaw(cid)) nodes++ })
      if (missing > 0) {
        throw new OrphanPointError(`cannot restore ${s.volume as string}/${s.parts.join('/')} from point ${point} of ${s.record.machine}: ` +
          `${blocks(missing, nodes)} of its data ${missing === 1 ? 'is' : 'are'} missing ` +
          (s.record.damaged === true ? `(${DAMAGED_HINT})` : '(the point is an orphan whose older data has not arrived)'))
      }
    }
    targets = [{ entry, path: childPath(Buffer.from(opts.dest), entry.name) }]
  }

  const createdDest = await atDestination(opts.dest, makeDirs(opts.dest))
  for (const t of targets) {
    if (await exists(t.path)) throw new UserError(`restore target already exists: ${showPath(t.path)} (restore into a directory that does not hold it)`)
  }
  const writer = new TreeWriter(deps.store, targets.reduce((sum, t) => sum + t.entry.size, 0), opts.onProgress)
  try {
    for (const t of targets) {
      writer.newTarget()
      await writer.entry(t.entry, t.path, 0)
    }
    await writer.finishDirectories()
  } catch (err) {
    // A half-restored tree is of no use, holds the space a retry needs, and would make the retry
    // refuse (nothing that exists is overwritten): remove what this run created.
    const undone = await undo(targets.map(t => t.path), opts.dest, createdDest)
    if (!(err instanceof FileSystemError)) throw err
    const note = undone ? `what this restore had written into ${opts.dest} was removed` : `remove what it left in ${opts.dest} before trying again`
    throw err.withNote(note)
  }
  writer.progress(true)
  return {
    point,
    machine: s.record.machine,
    restored: targets.map(t => showPath(t.path)),
    files: writer.files,
    bytes: writer.bytes,
    warnings: writer.warnings,
    seconds: (performance.now() - started) / 1000
  }
}

/** What to do about a point that lost blocks. */
const DAMAGED_HINT = 'the point was complete and blocks of it were found damaged since: back the same data up again, ' +
  'or run "drcore repair" to fetch good copies from a peer that holds a replica'

async function refuseOrphan (deps: RestoreDeps, signed: SignedPoint, volumes: string[], record: PointRecord): Promise<void> {
  if (record.complete) return
  // The cached status may be stale (blocks may have arrived since): look again.
  const only: SignedPoint = { ...signed, manifest: { ...signed.manifest, volumes: Object.fromEntries(volumes.map(v => [v, signed.manifest.volumes[v]])) } }
  const report = await missingBlocks(deps.store, only, { limit: 3 })
  if (report.count === 0) return
  const m = signed.manifest
  const perVolume = Object.entries(report.byVolume).map(([v, n]) => `${v}: ${n}`).join(', ')
  if (record.damaged === true) {
    throw new OrphanPointError(`point ${signed.id} of ${m.machine} is damaged: ${blocks(report.count, report.nodes)} of volume data ` +
      `${report.count === 1 ? 'is' : 'are'} missing (${perVolume}; e.g. ${report.cids[0]}); ${DAMAGED_HINT}; restore single files with --path`)
  }
  throw new OrphanPointError(`point ${signed.id} of ${m.machine} is an orphan: ${blocks(report.count, report.nodes)} of volume data ` +
    `${report.count === 1 ? 'is' : 'are'} missing (${perVolume}; e.g. ${report.cids[0]}) (its older data has not arrived; a seed drive or ` +
    'replication of the parent will complete it); restore single files with --path')
}

/** Restores entries under Buffer paths (a name is bytes), collecting warnings per kind. */
class TreeWriter {
  files = 0
  bytes = 0
  readonly #store: BlockStore
  readonly #total: number
  readonly #onProgress: ((p: RestoreProgress) => void) | undefined
  readonly #dirs: Array<{ path: Buffer, depth: number, entry: Entry }> = []
  /** ownership (and device nodes) are restored only by root; anyone else gets the files as their own */
  readonly #root = process.getuid?.() === 0
  readonly #warnings = new Warnings()
  /** hard link id of the target being restored to the first path restored with it */
  #links = new Map<number, Promise<Buffer | undefined>>()
  #path: Buffer | string = ''
  readonly #progress = new Throttle()

  constructor (store: BlockStore, total: number, onProgress?: (p: RestoreProgress) => void) {
    this.#store = store
    this.#total = total
    this.#onProgress = onProgress
  }

  /** Hard link ids are per volume: a new target starts a new set. */
  newTarget (): void {
    this.#links = new Map()
  }

  get warnings (): string[] {
    return this.#warnings.lines()
  }

  async entry (entry: Entry, path: Buffer, depth: number): Promise<void> {
    this.#path = path
    // Before any await: the first entry of a hard link registers itself in walk order, even
    // when files are restored a few at a time.
    if (entry.type === 'file' && entry.hardlink !== undefined) {
      const first = this.#links.get(entry.hardlink)
      if (first !== undefined) {
        await this.#link(entry, path, first)
        return
      }
      const done = this.#file(entry, path).then(() => path)
      this.#links.set(entry.hardlink, done.catch(() => undefined))
      await done
      this.files++
      this.progress(false)
      return
    }
    switch (entry.type) {
      case 'dir':
        // writable while we fill it; its real mode is set in finishDirectories
        await atDestination(path, mkdir(path, { mode: 0o700 }))
        this.#dirs.push({ path, depth, entry })
        {
          // Small files are latency-bound (open, write, chmod, rename, utimes): restore a few at once.
          let files: Entry[] = []
          const flush = async (): Promise<void> => {
            await mapLimit(files, FILE_CONCURRENCY, async f => await this.entry(f, childPath(path, f.name), depth + 1))
            files = []
          }
          for await (const child of dirEntries(async cid => await this.#store.get(cid), entry.cid as CID)) {
            if (child.type !== 'file') {
              await this.entry(child, childPath(path, child.name), depth + 1)
              continue
            }
            files.push(child)
            if (files.length >= 4 * FILE_CONCURRENCY) await flush()
          }
          await flush()
        }
        break
      case 'symlink':
        await atDestination(path, symlink(nameBytes(entry.target as Name), path))
        if (this.#root && entry.uid !== undefined && entry.gid !== undefined) await atDestination(path, lchown(path, entry.uid, entry.gid))
        this.#setXattrs(path, entry)
        setTimes(path, entry)
        this.files++
        break
      case 'file':
        await this.#file(entry, path)
        this.files++
        break
      case 'fifo':
      case 'char':
      case 'block':
        if (!await this.#special(entry, path)) return
        this.files++
        break
    }
    this.progress(false)
  }

  /** Another name of an inode restored already: a hard link to it (which has its metadata). */
  async #link (entry: Entry, path: Buffer, first: Promise<Buffer | undefined>): Promise<void> {
    const target = await first
    try {
      if (target === undefined) throw Object.assign(new Error('its first link was not restored'), { code: 'ENOENT' })
      await link(target, path)
    } catch (err: any) {
      // the first link failed: a file of its own, as the entry holds the content
      this.#warnings.add('hard links', `could not be made (${String(err.code ?? err.message)}): restored as separate files`)
      await this.#file(entry, path)
    }
    this.files++
    this.progress(false)
  }

  async #file (entry: Entry, path: Buffer): Promise<void> {
    const slash = path.lastIndexOf(0x2f) + 1
    const temp = Buffer.concat([path.subarray(0, slash), DOT, path.subarray(slash, slash + 200), Buffer.from(`.drcore-restore-${randomBytes(6).toString('hex')}`)])
    const handle = await atDestination(path, open(temp, 'wx', 0o600))
    try {
      let written = 0
      const chunks = fileChunks(async c => await this.#store.get(c), entry.cid as CID)
      const reads = readAhead(chunks, READ_AHEAD, async ([cid, declared]) => ({ cid, bytes: await this.#store.get(cid), declared }))
      for await (const { cid, bytes, declared } of reads) {
        if (declared >= 0 && bytes.length !== declared) {
          throw new MalformedError(`chunk ${cid} of ${showPath(path)} holds ${bytes.length} bytes where its file node declares ${declared}`)
        }
        await atDestination(path, writeSparse(handle, bytes, written))
        written += bytes.length
        this.bytes += bytes.length
        this.progress(false)
      }
      if (written !== entry.size) throw new MalformedError(`file ${showPath(path)} restored ${written} bytes where its entry declares ${entry.size}`)
      // zero runs were not written: the length makes the holes they left, at the end too
      await atDestination(path, handle.truncate(written))
      // chown before chmod: changing the owner clears set-user-id and set-group-id bits
      if (this.#root && entry.uid !== undefined && entry.gid !== undefined) await atDestination(path, handle.chown(entry.uid, entry.gid))
      await atDestination(path, handle.chmod(entry.mode))
      // after chown and the last write, either of which drops a file capability (security.capability)
      this.#setXattrs(temp, entry)
      await atDestination(path, handle.close())
      await atDestination(path, rename(temp, path))
      setTimes(path, entry)
    } catch (err) {
      // the reads still in flight have settled: readAhead waits for them when its loop is left
      await handle.close().catch(() => {})
      await unlink(temp).catch(() => {})
      throw err
    }
  }

  /** A FIFO or device node; false when it could not be made (a device as non-root: a warning). */
  async #special (entry: Entry, path: Buffer): Promise<boolean> {
    try {
      // owner-only like everything else until the recorded mode is applied
      mknod(path, entry.type as SpecialKind, 0o600, entry.rdev)
    } catch (err: any) {
      if (entry.type !== 'fifo' && (err.code === 'EPERM' || err.code === 'EACCES')) {
        this.#warnings.add('device nodes', 'can only be made by root: not restored')
        return false
      }
      throw isSystemError(err) ? new FileSystemError('writing', showPath(path), err) : err
    }
    if (this.#root && entry.uid !== undefined && entry.gid !== undefined) await atDestination(path, lchown(path, entry.uid, entry.gid))
    await atDestination(path, chmod(path, entry.mode))
    this.#setXattrs(path, entry)
    setTimes(path, entry)
    return true
  }

  /** Extended attributes and ACLs where the destination takes them; otherwise one warning per kind. */
  #setXattrs (path: Buffer, entry: Entry): void {
    if (entry.xattrs === undefined) return
    const failed = new Map<string, string>()
    for (const [name, value] of entry.xattrs) {
      try {
        setXattr(path, nameBytes(name), value)
      } catch (err: any) {
        if (typeof err.code !== 'string') throw err
        failed.set(xattrKind(nameBytes(name).toString('latin1')), err.code)
      }
    }
    for (const [kind, code] of failed) this.#warnings.add(kind, xattrProblem(code))
  }

  /** Owners, modes, attributes and times of directories, deepest first, so setting one does not disturb another. */
  async finishDirectories (): Promise<void> {
    const dirs = this.#dirs.sort((a, b) => b.depth - a.depth)
    for (const { path, entry } of dirs) {
      if (this.#root && entry.uid !== undefined && entry.gid !== undefined) await atDestination(path, lchown(path, entry.uid, entry.gid))
      await atDestination(path, chmod(path, entry.mode))
      this.#setXattrs(path, entry)
      setTimes(path, entry)
    }
  }

  progress (force: boolean): void {
    if (this.#onProgress === undefined || !this.#progress.ready(force)) return
    this.#onProgress({ files: this.files, bytes: this.bytes, totalBytes: this.#total, path: showPath(this.#path) })
  }
}

/** One line per kind of thing the destination could not take, with how many entries it concerns. */
class Warnings {
  readonly #counts = new Map<string, { kind: string, problem: string, count: number }>()

  add (kind: string, problem: string): void {
    const key = `${kind}\0${problem}`
    const seen = this.#counts.get(key)
    if (seen !== undefined) seen.count++
    else this.#counts.set(key, { kind, problem, count: 1 })
  }

  lines (): string[] {
    return [...this.#counts.values()].map(({ kind, problem, count }) => `${kind} ${problem} on ${count} ${count === 1 ? 'entry' : 'entries'}`)
  }
}

/** What kind of extended attribute a name is, for warnings. */
function xattrKind (name: string): string {
  if (name.startsWith('system.posix_acl_')) return 'POSIX ACLs'
  if (name.startsWith('user.')) return 'extended attributes in the user namespace'
  if (name.startsWith('security.')) return 'extended attributes in the security namespace'
  if (name.startsWith('trusted.')) return 'extended attributes in the trusted namespace'
  return 'extended attributes in other namespaces'
}

function xattrProblem (code: string): string {
  if (code === 'ENOTSUP' || code === 'EOPNOTSUPP') return 'are not supported by the destination: not restored'
  if (code === 'EPERM' || code === 'EACCES') return 'may not be set by this user: not restored'
  return `could not be set (${code}): not restored`
}

const DOT = Buffer.from('.')

const HOLE_BLOCK = 4096
const ZEROS = Buffer.alloc(HOLE_BLOCK)

/**
 * Writes `bytes` at `position` of a new file, leaving out every piece of a 4 KiB block (of the
 * file's offsets) that is all zeros: what is not written reads as zeros, and a block nothing is
 * written to takes no space, so zero runs come back as holes. Consecutive pieces that are
 * written go out in one call.
 */
export async function writeSparse (handle: Pick<FileHandle, 'write'>, bytes: Uint8Array, position: number): Promise<void> {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let runStart = -1
  let i = 0
  while (i < data.length) {
    const end = Math.min(data.length, i + HOLE_BLOCK - ((position + i) % HOLE_BLOCK))
    const zero = ZEROS.compare(data, i, end, 0, end - i) === 0
    if (zero && runStart >= 0) {
      await writeAll(handle, data, runStart, i, position)
      runStart = -1
    } else if (!zero && runStart < 0) {
      runStart = i
    }
    i = end
  }
  if (runStart >= 0) await writeAll(handle, data, runStart, data.length, position)
}

/** A write that fills the disk returns short: go on from there, and the next write says why. */
async function writeAll (handle: Pick<FileHandle, 'write'>, data: Buffer, start: number, end: number, position: number): Promise<void> {
  let at = start
  while (at < end) {
    const { bytesWritten } = await handle.write(data, at, end - at, position + at)
    if (bytesWritten <= 0) throw Object.assign(new Error(`the file system wrote nothing at byte ${position + at}`), { code: 'EIO', errno: -5, syscall: 'write' })
    at += bytesWritten
  }
}

/** Sets an entry's mtime (and atime) to the nanosecond, not following a symlink. */
function setTimes (path: Buffer, entry: Entry): void {
  try {
    lutimesNs(path, entry.mtime, entry.mtime)
  } catch (err) {
    throw isSystemError(err) ? new FileSystemError('writing', showPath(path), err) : err
  }
}

/**
 * A file-system call on the destination. Its failure (a full disk, a permission) becomes a
 * `FileSystemError` naming `path`; store failures, which also surface while files are written,
 * pass through as they are.
 */
async function atDestination<T> (path: Buffer | string, call: Promise<T>): Promise<T> {
  try {
    return await call
  } catch (err) {
    throw isSystemError(err) ? new FileSystemError('writing', showPath(path), err) : err
  }
}

/**
 * Removes the targets of a failed run (none existed before it) and the directories its
 * `mkdir -p` of `dest` created, when they are empty again. Returns whether all of it went.
 */
async function undo (targets: Buffer[], dest: string, createdDest: string | undefined): Promise<boolean> {
  let ok = true
  for (const target of targets) {
    try {
      // a directory restored read-only must be writable to be emptied
      await chmodTree(target)
      await rm(target, { recursive: true, force: true })
    } catch {
      ok = false
    }
  }
  if (createdDest === undefined) return ok
  for (let dir = dest; dir.length >= createdDest.length; dir = dirname(dir)) {
    try {
      await rmdir(dir)
    } catch {
      break
    }
    if (dir === createdDest) break
  }
  return ok
}

/** Makes every directory under `root` writable by its owner, so it can be removed. */
async function chmodTree (root: Buffer): Promise<void> {
  let st
  try {
    st = await lstat(root)
  } catch {
    return
  }
  if (!st.isDirectory()) return
  await chmod(root, 0o700)
  for (const name of await readdir(root, { encoding: 'buffer' })) await chmodTree(childPath(root, name))
}

/** "3 blocks", or "at least 3 blocks" when missing nodes hide what is below them */
function blocks (count: number, nodes: number): string {
  return `${nodes > 0 ? 'at least ' : ''}${count} block${count === 1 ? '' : 's'}`
}

async function exists (path: Buffer): Promise<boolean> {
  try {
    await lstat(path)
    return true
  } catch {
    return false
  }
}
