import { lstat, lchown, mkdir, open, readdir, rename, rm, rmdir, symlink, unlink, utimes, lutimes, chmod } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { dirname, basename, join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { FileSystemError, isSystemError, MalformedError, OrphanPointError, UserError } from '../errors.ts'
import { dirEntries } from '../points/dir-tree.ts'
import { fileChunks } from '../points/file-tree.ts'
import { countMissing, missingBlocks } from '../points/closure.ts'
import type { Entry } from '../points/nodes.ts'
import { isRaw } from '../points/blocks.ts'
import type { PointRecord, SignedPoint } from '../points/api.ts'
import type { BlockStore } from '../store/api.ts'
import { select, volumeEntry } from './select.ts'
import { mapLimit } from '../backup/archiver.ts'
import type { RestoreDeps, RestoreOptions, RestoreProgress, RestoreResult } from './index.ts'

/** Chunk reads in flight while writing a file: the store decompresses and rehashes on other threads. */
const READ_AHEAD = 8
const PROGRESS_INTERVAL_MS = 100
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
 * one and renamed when complete, so a block that is missing or corrupt (every read is rehashed)
 * fails the restore, naming the CID, without leaving a wrong file under a real name. Modes and
 * mtimes are set after contents, directories last and deepest first; symlinks keep their target.
 */
export async function restore (deps: RestoreDeps, opts: RestoreOptions): Promise<RestoreResult> {
  const started = performance.now()
  const s = await select(deps, opts)
  const point = s.record.point
  let targets: Array<{ entry: Entry, path: string }>
  if (opts.path === undefined) {
    const names = opts.volume !== undefined ? [s.volume as string] : Object.keys(s.signed.manifest.volumes)
    await refuseOrphan(deps, s.signed, names, s.record)
    targets = names.map(name => ({ entry: volumeEntry(name, s.signed.manifest.volumes[name]), path: join(opts.dest, name) }))
  } else {
    if (s.entry === undefined) throw new UserError('restore --path needs a path inside a volume')
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
    targets = [{ entry, path: join(opts.dest, entry.name) }]
  }

  const createdDest = await atDestination(opts.dest, mkdir(opts.dest, { recursive: true }))
  for (const t of targets) {
    if (await exists(t.path)) throw new UserError(`restore target already exists: ${t.path} (restore into a directory that does not hold it)`)
  }
  const writer = new TreeWriter(deps.store, targets.reduce((sum, t) => sum + t.entry.size, 0), opts.onProgress)
  try {
    for (const t of targets) await writer.entry(t.entry, t.path, 0)
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
    restored: targets.map(t => t.path),
    files: writer.files,
    bytes: writer.bytes,
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

class TreeWriter {
  files = 0
  bytes = 0
  readonly #store: BlockStore
  readonly #total: number
  readonly #onProgress: ((p: RestoreProgress) => void) | undefined
  readonly #dirs: Array<{ path: string, depth: number, entry: Entry }> = []
  /** ownership is restored only by root; anyone else gets the files as their own */
  readonly #chown = process.getuid?.() === 0
  #path = ''
  #last = 0

  constructor (store: BlockStore, total: number, onProgress?: (p: RestoreProgress) => void) {
    this.#store = store
    this.#total = total
    this.#onProgress = onProgress
  }

  async entry (entry: Entry, path: string, depth: number): Promise<void> {
    this.#path = path
    switch (entry.type) {
      case 'dir':
        // writable while we fill it; its real mode is set in finishDirectories
        await atDestination(path, mkdir(path, { mode: 0o700 }))
        this.#dirs.push({ path, depth, entry })
        {
          // Small files are latency-bound (open, write, chmod, rename, utimes): restore a few at once.
          let files: Entry[] = []
          const flush = async (): Promise<void> => {
            await mapLimit(files, FILE_CONCURRENCY, async f => await this.entry(f, join(path, f.name), depth + 1))
            files = []
          }
          for await (const child of dirEntries(async cid => await this.#store.get(cid), entry.cid as CID)) {
            if (child.type !== 'file') {
              await this.entry(child, join(path, child.name), depth + 1)
              continue
            }
            files.push(child)
            if (files.length >= 4 * FILE_CONCURRENCY) await flush()
          }
          await flush()
        }
        break
      case 'symlink':
        await atDestination(path, symlink(entry.target as string, path))
        if (this.#chown && entry.uid !== undefined && entry.gid !== undefined) await atDestination(path, lchown(path, entry.uid, entry.gid))
        await atDestination(path, lutimes(path, ...times(entry)))
        this.files++
        break
      case 'file':
        await this.#file(entry, path)
        await atDestination(path, utimes(path, ...times(entry)))
        this.files++
        break
    }
    this.progress(false)
  }

  async #file (entry: Entry, path: string): Promise<void> {
    const temp = join(dirname(path), `.${basename(path).slice(0, 200)}.drcore-restore-${randomBytes(6).toString('hex')}`)
    const handle = await atDestination(path, open(temp, 'wx', 0o600))
    const inFlight: Array<Promise<{ cid: CID, bytes: Uint8Array, declared: number }>> = []
    try {
      let written = 0
      const drainOne = async (): Promise<void> => {
        const { cid, bytes, declared } = await (inFlight.shift() as Promise<{ cid: CID, bytes: Uint8Array, declared: number }>)
        if (declared >= 0 && bytes.length !== declared) {
          throw new MalformedError(`chunk ${cid} of ${path} holds ${bytes.length} bytes where its file node declares ${declared}`)
        }
        // a write that fills the disk returns short: go on from there, and the next write says why
        for (let done = 0; done < bytes.length;) {
          const { bytesWritten } = await atDestination(path, handle.write(bytes, done, bytes.length - done, written + done))
          if (bytesWritten <= 0) throw new FileSystemError('writing', path, new Error(`the file system wrote nothing at byte ${written + done}`))
          done += bytesWritten
        }
        written += bytes.length
        this.bytes += bytes.length
        this.progress(false)
      }
      for await (const [cid, declared] of fileChunks(async c => await this.#store.get(c), entry.cid as CID)) {
        const read = this.#store.get(cid).then(bytes => ({ cid, bytes, declared }))
        read.catch(() => {}) // awaited in order by drainOne; a failure ahead of it must not go unhandled
        inFlight.push(read)
        if (inFlight.length >= READ_AHEAD) await drainOne()
      }
      while (inFlight.length > 0) await drainOne()
      if (written !== entry.size) throw new MalformedError(`file ${path} restored ${written} bytes where its entry declares ${entry.size}`)
      // chown before chmod: changing the owner clears set-user-id and set-group-id bits
      if (this.#chown && entry.uid !== undefined && entry.gid !== undefined) await atDestination(path, handle.chown(entry.uid, entry.gid))
      await atDestination(path, handle.chmod(entry.mode))
      await atDestination(path, handle.close())
      await atDestination(path, rename(temp, path))
    } catch (err) {
      await Promise.allSettled(inFlight)
      await handle.close().catch(() => {})
      await unlink(temp).catch(() => {})
      throw err
    }
  }

  /** Modes and mtimes of directories, deepest first, so setting one does not disturb another. */
  async finishDirectories (): Promise<void> {
    const dirs = this.#dirs.sort((a, b) => b.depth - a.depth)
    for (const { path, entry } of dirs) {
      if (this.#chown && entry.uid !== undefined && entry.gid !== undefined) await atDestination(path, lchown(path, entry.uid, entry.gid))
      await atDestination(path, chmod(path, entry.mode))
      await atDestination(path, utimes(path, ...times(entry)))
    }
  }

  progress (force: boolean): void {
    if (this.#onProgress === undefined) return
    const now = performance.now()
    if (!force && now - this.#last < PROGRESS_INTERVAL_MS) return
    this.#last = now
    this.#onProgress({ files: this.files, bytes: this.bytes, totalBytes: this.#total, path: this.#path })
  }
}

/** utimes takes seconds as a double: exact to well under a microsecond for current dates. */
function times (entry: Entry): [number, number] {
  const t = entry.mtime[0] + entry.mtime[1] / 1e9
  return [t, t]
}

/** "3 blocks", or "at least 3 blocks" when missing nodes hide what is below them */
function blocks (count: number, nodes: number): string {
  return `${nodes > 0 ? 'at least ' : ''}${count} block${count === 1 ? '' : 's'}`
}

/**
 * A file-system call on the destination. Its failure (a full disk, a permission) becomes a
 * `FileSystemError` naming `path`; store failures, which also surface while files are written,
 * pass through as they are.
 */
async function atDestination<T> (path: string, call: Promise<T>): Promise<T> {
  try {
    return await call
  } catch (err) {
    throw isSystemError(err) ? new FileSystemError('writing', path, err) : err
  }
}

/**
 * Removes the targets of a failed run (none existed before it) and the directories its
 * `mkdir -p` of `dest` created, when they are empty again. Returns whether all of it went.
 */
async function undo (targets: string[], dest: string, createdDest: string | undefined): Promise<boolean> {
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
async function chmodTree (root: string): Promise<void> {
  let st
  try {
    st = await lstat(root)
  } catch {
    return
  }
  if (!st.isDirectory()) return
  await chmod(root, 0o700)
  for (const name of await readdir(root)) await chmodTree(join(root, name))
}

async function exists (path: string): Promise<boolean> {
  try {
    await lstat(path)
    return true
  } catch {
    return false
  }
}
