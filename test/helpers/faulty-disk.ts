/**
 * A disk for the block store's tests that fails and crashes the way real ones do, in the spirit
 * of LazyFS, behind the seams the store already has (`openFile`, `directory`).
 *
 * The model: files are real files (so everything that reads them sees what a running system
 * sees: the page cache), and the disk remembers what is not durable yet.
 * - A write or truncate is visible at once and durable once its file is datasynced.
 * - Creating a file (open with 'w') and deleting one (`unlink`) change the directory at once and
 *   become durable once the directory is synced.
 * - `crash(mode)` cuts the power and puts every file back the way the disk would find it:
 *   `drop` loses everything not synced; `tear` does too, but keeps a prefix of the last unsynced
 *   write; `writeback` keeps a random prefix of each file's unsynced changes (the kernel wrote
 *   some back, in order per file; the next one possibly torn) and of the directory's; `process`
 *   keeps everything (a killed process: the page cache survives).
 * - `cutPower()` / `cutPowerAt()` end a generation mid-workload: every later call of that
 *   generation's handles rejects with `PowerCutError`, so the store under test cannot write after
 *   the moment the test chose; calls already in flight finish on disk but never report success.
 * - `inject(fault)` fails a chosen call (the nth matching one, or by predicate) with EIO or ENOSPC,
 *   errors shaped as node makes them (`errno`, `code`, `syscall`, `path` for path calls); a
 *   `writev` fault may first write part of its bytes, then throw or return short.
 * - `trace` records every call (file, op, range; for writes, which datasync made them durable),
 *   so a test can assert the order of writes, syncs and index batches (see faulty-index.ts).
 *
 * Not modelled: page-granular reordering inside one file (a file's unsynced changes reach the
 * disk in the order they were made), a torn write that leaves garbage instead of a prefix, data
 * loss after an fsync that reported success, the creation of the packs directory itself (mkdir is
 * taken as durable), metadata other than size, and rename (the store does not rename).
 */
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { constants } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { getSystemErrorMessage } from 'node:util'
import { syncDirectory } from '../../src/fsx/sync-directory.ts'
import type { OpenPackFile, PackDirectory, PackFileHandle } from '../../src/store/pack-files.ts'

export type DiskOp = 'open' | 'writev' | 'read' | 'datasync' | 'truncate' | 'close' |
  'mkdir' | 'readdir' | 'size' | 'unlink' | 'syncdir' | 'batch'

/** Calls that change what is (or will be) on disk: where a power cut is worth placing. */
export const MUTATING_OPS: ReadonlySet<DiskOp> = new Set(['open', 'writev', 'datasync', 'truncate', 'mkdir', 'unlink', 'syncdir', 'batch'])

export type FaultCode = 'EIO' | 'ENOSPC'
export type CrashMode = 'drop' | 'tear' | 'writeback' | 'process'

/** What a call is about, as fault and power-cut predicates see it. */
export interface DiskCall {
  op: DiskOp
  path?: string
  flags?: string
  position?: number
  /** bytes asked for (writev, read) */
  length?: number
  /** the target length (truncate) */
  size?: number
  /** the sync flag of an index batch */
  sync?: boolean
}

export interface TraceEvent extends Omit<DiskCall, 'op'> {
  /** a call, or a mark: the power was cut, a crash put the disk back */
  op: DiskOp | 'power cut' | 'crash'
  seq: number
  /** 0 until the first crash, then one more per crash */
  generation: number
  /** writev: bytes that reached the file */
  written?: number
  /** open: the call created the file */
  created?: boolean
  /** writev: seq of the datasync that made it durable */
  syncedAt?: number
  /** the error the call failed with */
  error?: string
  /** set by a crash on writes and index batches it did not keep */
  lost?: boolean
  /** crash: what it did */
  detail?: string
  /** batch: what it wrote (faulty-index.ts) */
  batch?: BatchSummary
}

export interface BatchSummary {
  blocks: Array<{ cid: string, path: string, offset: number, storedLength: number }>
  packs: Array<{ path: string, length: number | undefined }>
  ops: Array<{ sublevel: string, type: 'put' | 'del', key: string }>
  /** entries that point at bytes (or files) that were not durable when the batch was written */
  notDurable: string[]
}

export interface Fault {
  op: DiskOp
  /** the error; without it a writev fault returns short (`written` bytes) without an error */
  code?: FaultCode
  /** the nth matching call from now fails (default 1) */
  nth?: number
  /** only calls for which this holds count */
  when?: (call: DiskCall) => boolean
  /** writev: bytes written before the fault strikes (default 0) */
  written?: number
  /** how many matching calls fail once it starts (default 1; Infinity: the disk stays broken) */
  times?: number
}

export interface ArmedFault {
  /** how many calls it has failed */
  readonly fired: number
  disarm: () => void
}

/** A call made after the power was cut: the process it belongs to is gone. */
export class PowerCutError extends Error {
  override name = 'PowerCutError'
  constructor (call: DiskCall) {
    super(`power cut: ${call.op}${call.path === undefined ? '' : ` ${call.path}`} did not happen`)
  }
}

/** An error as node's fs produces it: `ENOSPC: no space left on device, write`, with errno fields. */
export function systemError (code: FaultCode, syscall: string, path?: string): NodeJS.ErrnoException {
  const errno = -constants.errno[code]
  const where = path === undefined ? '' : ` '${path}'`
  const err: NodeJS.ErrnoException = new Error(`${code}: ${getSystemErrorMessage(errno).toLowerCase()}, ${syscall}${where}`)
  err.errno = errno
  err.code = code
  err.syscall = syscall
  if (path !== undefined) err.path = path
  return err
}

const SYSCALLS: Record<DiskOp, string> = {
  open: 'open',
  writev: 'write',
  read: 'read',
  datasync: 'fdatasync',
  truncate: 'ftruncate',
  close: 'close',
  mkdir: 'mkdir',
  readdir: 'scandir',
  size: 'stat',
  unlink: 'unlink',
  syncdir: 'fsync',
  batch: 'write'
}

interface WriteChange {
  kind: 'write'
  position: number
  /** what was written (a copy) */
  bytes: Buffer
  /** what it overwrote, and the size before it */
  oldBytes: Buffer
  oldSize: number
  event: TraceEvent
}

interface TruncateChange {
  kind: 'truncate'
  size: number
  oldSize: number
  /** the bytes a shrinking truncate cut off */
  cut: Buffer
}

type DataChange = WriteChange | TruncateChange

class Inode {
  /** where its bytes are now: its name in a directory, or in the stash once unlinked */
  path: string
  size: number
  /** changes since the last datasync, oldest first */
  pending: DataChange[] = []
  constructor (path: string, size: number) {
    this.path = path
    this.size = size
  }

  get durableSize (): number {
    return this.pending.length === 0 ? this.size : this.pending[0].oldSize
  }
}

interface DirChange { kind: 'create' | 'unlink', name: string, inode: Inode }

class Dir {
  readonly path: string
  /** entries as the disk holds them */
  durable: Map<string, Inode>
  /** entries as a reader sees them */
  visible: Map<string, Inode>
  /** changes since the last directory sync, oldest first */
  pending: DirChange[] = []
  constructor (path: string, entries: Map<string, Inode>) {
    this.path = path
    this.durable = entries
    this.visible = new Map(entries)
  }
}

/** Whoever else keeps state a crash must roll back (the index: faulty-index.ts). */
export interface CrashParticipant {
  /** waits for its calls in flight */
  settle: () => Promise<void>
  crash: (mode: CrashMode, random: () => number) => Promise<void>
}

interface ArmedRule {
  op: DiskOp
  skip: number
  times: number
  fired: number
  when?: (call: DiskCall) => boolean
  fault: Fault
}

export interface FaultyDiskOptions {
  /** a directory on the same file system for unlinked files a crash may bring back */
  stash: string
  /** also fsync for real (default false: the model decides what survives, real syncs only cost time) */
  realSync?: boolean
  /** record reads, closes and lookups in the trace too (default false) */
  traceAll?: boolean
}

export class FaultyDisk {
  readonly trace: TraceEvent[] = []
  readonly #stash: string
  readonly #realSync: boolean
  readonly #traceAll: boolean
  readonly #dirs = new Map<string, Dir>()
  readonly #scans = new Map<string, Promise<Dir>>()
  readonly #participants: CrashParticipant[] = []
  readonly #inflight = new Set<Promise<unknown>>()
  readonly #handles = new Set<FileHandle>()
  #rules: ArmedRule[] = []
  #cut: { remaining: number, when: (call: DiskCall) => boolean } | undefined
  #powerCut = false
  #generation = 0
  #seq = 0
  #stashed = 0

  constructor (options: FaultyDiskOptions) {
    this.#stash = options.stash
    this.#realSync = options.realSync ?? false
    this.#traceAll = options.traceAll ?? false
  }

  get generation (): number {
    return this.#generation
  }

  get powerCut (): boolean {
    return this.#powerCut
  }

  get realSync (): boolean {
    return this.#realSync
  }

  /** The store options that put it on this disk. */
  get storeOptions (): { openFile: OpenPackFile, directory: PackDirectory } {
    return { openFile: this.openFile, directory: this.directory }
  }

  /** The seq the next call gets. */
  get nextSeq (): number {
    return this.#seq + 1
  }

  /** The trace from `seq` (a `nextSeq` taken earlier) on. */
  since (seq: number): TraceEvent[] {
    return this.trace.filter((event) => event.seq >= seq)
  }

  attach (participant: CrashParticipant): void {
    this.#participants.push(participant)
  }

  /** Fails calls as `fault` says, from now until it is disarmed or the next crash. */
  inject (fault: Fault): ArmedFault {
    const rule: ArmedRule = { op: fault.op, skip: (fault.nth ?? 1) - 1, times: fault.times ?? 1, fired: 0, when: fault.when, fault }
    this.#rules.push(rule)
    return {
      get fired () { return rule.fired },
      disarm: () => { this.#rules = this.#rules.filter((r) => r !== rule) }
    }
  }

  /** Cuts the power right before the nth call for which `when` holds (default: any mutating call). */
  cutPowerAt (nth: number, when: (call: DiskCall) => boolean = (call) => MUTATING_OPS.has(call.op)): void {
    this.#cut = { remaining: nth, when }
  }

  cutPower (): void {
    if (this.#powerCut) return
    this.#powerCut = true
    this.#record({ op: 'power cut' }, true)
  }

  /**
   * Whether bytes [start, end) of the file at `path` are durable and are what a reader sees now:
   * its directory entry is synced, the file was datasynced past `end`, and no unsynced change
   * touches the range since.
   */
  isDurable (path: string, start: number, end: number): boolean {
    const dir = this.#dirs.get(dirname(path))
    const inode = dir?.durable.get(basename(path))
    if (inode === undefined || dir?.visible.get(basename(path)) !== inode) return false
    if (end > inode.durableSize) return false
    return inode.pending.every((change) => change.kind === 'write'
      ? change.position >= end || change.position + change.bytes.length <= start
      : change.size >= end)
  }

  /** Whether a crash now would leave no file at `path`, or an empty one. */
  isDurablyEmpty (path: string): boolean {
    const inode = this.#dirs.get(dirname(path))?.durable.get(basename(path))
    return inode === undefined || inode.durableSize === 0
  }

  readonly openFile: OpenPackFile = async (path, flags) => {
    const call: DiskCall = { op: 'open', path, flags }
    const { event, fault } = this.#enter(call)
    if (fault !== undefined) throw this.#fail(event, systemError(fault.code ?? 'EIO', 'open', path))
    const generation = this.#generation
    const dir = await this.#dir(dirname(path))
    this.#checkPower(call, generation)
    const name = basename(path)
    let inode = dir.visible.get(name)
    if (inode !== undefined && flags.includes('w') && !flags.includes('x')) throw new Error(`faulty disk: opening ${path} with '${flags}' (truncating it) is not modelled`)
    let created: DirChange | undefined
    if (inode === undefined && (flags.includes('w') || flags.includes('a'))) {
      // in the model before it happens, so that a crash during the call knows of the file
      inode = new Inode(path, 0)
      created = { kind: 'create', name, inode }
      dir.visible.set(name, inode)
      dir.pending.push(created)
    }
    let real: FileHandle
    try {
      real = await this.#perform(open(path, flags), generation, call)
    } catch (err) {
      if (created !== undefined && !this.#powerCut) {
        dir.visible.delete(name)
        dir.pending.splice(dir.pending.indexOf(created), 1)
      }
      throw this.#fail(event, err)
    }
    if (this.#powerCut || generation !== this.#generation) {
      await real.close().catch(() => {})
      throw new PowerCutError(call)
    }
    if (inode === undefined) {
      await real.close()
      throw new Error(`faulty disk: ${path} exists but the model does not know it`)
    }
    this.#handles.add(real)
    event.created = created !== undefined
    return new FaultyHandle(this, real, inode, path, generation)
  }

  readonly directory: PackDirectory = {
    mkdir: async (path) => {
      const call: DiskCall = { op: 'mkdir', path }
      const { event, fault } = this.#enter(call)
      if (fault !== undefined) throw this.#fail(event, systemError(fault.code ?? 'EIO', 'mkdir', path))
      await this.perform(mkdir(path, { recursive: true }), this.#generation, call)
    },
    readdir: async (path) => {
      const call: DiskCall = { op: 'readdir', path }
      const { event, fault } = this.#enter(call)
      if (fault !== undefined) throw this.#fail(event, systemError(fault.code ?? 'EIO', 'scandir', path))
      const generation = this.#generation
      const dir = await this.#dir(path)
      const names = await this.perform(readdir(path), generation, call)
      for (const name of dir.visible.keys()) {
        if (!names.includes(name)) throw new Error(`faulty disk: ${join(path, name)} is missing, the model has it`)
      }
      return names
    },
    size: async (path) => {
      const call: DiskCall = { op: 'size', path }
      const { event, fault } = this.#enter(call)
      if (fault !== undefined) throw this.#fail(event, systemError(fault.code ?? 'EIO', 'stat', path))
      return (await this.perform(stat(path), this.#generation, call)).size
    },
    unlink: async (path) => {
      const call: DiskCall = { op: 'unlink', path }
      const { event, fault } = this.#enter(call)
      if (fault !== undefined) throw this.#fail(event, systemError(fault.code ?? 'EIO', 'unlink', path))
      const generation = this.#generation
      const dir = await this.#dir(dirname(path))
      await mkdir(this.#stash, { recursive: true })
      this.#checkPower(call, generation)
      const name = basename(path)
      const inode = dir.visible.get(name)
      if (inode === undefined) {
        throw this.#fail(event, Object.assign(new Error(`ENOENT: no such file or directory, unlink '${path}'`), { errno: -constants.errno.ENOENT, code: 'ENOENT', syscall: 'unlink', path }))
      }
      // moved aside, not deleted: a crash before the directory sync brings the file back
      const stashed = join(this.#stash, String(++this.#stashed))
      inode.path = stashed
      dir.visible.delete(name)
      dir.pending.push({ kind: 'unlink', name, inode })
      await this.perform(rename(path, stashed), generation, call)
    },
    sync: async (path) => {
      const call: DiskCall = { op: 'syncdir', path }
      const { event, fault } = this.#enter(call)
      if (fault !== undefined) throw this.#fail(event, systemError(fault.code ?? 'EIO', 'fsync'))
      const generation = this.#generation
      const dir = await this.#dir(path)
      const changes = dir.pending.length
      if (this.#realSync) await this.#perform(syncDirectory(path), generation, call)
      this.#checkPower(call, generation)
      const synced = dir.pending.splice(0, changes)
      for (const change of synced) {
        if (change.kind === 'create') dir.durable.set(change.name, change.inode)
        else if (dir.durable.get(change.name) === change.inode) dir.durable.delete(change.name)
      }
      for (const change of synced) {
        if (change.kind === 'unlink' && !this.#isDurable(change.inode)) await rm(change.inode.path, { force: true })
      }
    }
  }

  /**
   * Cuts the power (if a cut is not already under way), waits for calls in flight, then puts
   * every file, directory and the index back the way a restart would find them, and returns what
   * it did. A new generation starts: faults and power-cut rules are cleared, and handles of the
   * old one refuse every call. Call it before closing the LevelDB of a `FaultyIndex`, which rolls
   * its batches back through that database.
   */
  async crash (mode: CrashMode, random: () => number = Math.random): Promise<string> {
    this.cutPower()
    await this.#settle()
    for (const participant of this.#participants) await participant.settle()
    await this.#settle()
    await Promise.allSettled([...this.#handles].map(async (handle) => await handle.close()))
    this.#handles.clear()

    const notes: string[] = []
    const survivors: Inode[] = []
    for (const dir of this.#dirs.values()) {
      const keep = mode === 'process' ? dir.pending.length : mode === 'writeback' ? pickInt(random, dir.pending.length) : 0
      const after = new Map(dir.durable)
      for (const change of dir.pending.slice(0, keep)) {
        if (change.kind === 'create') after.set(change.name, change.inode)
        else if (after.get(change.name) === change.inode) after.delete(change.name)
      }
      const kept = new Set(after.values())
      for (const [name, inode] of dir.visible) {
        if (kept.has(inode)) continue
        await rm(inode.path, { force: true })
        notes.push(`${name} lost`)
      }
      for (const change of dir.pending) {
        if (change.kind === 'unlink' && !kept.has(change.inode)) await rm(change.inode.path, { force: true })
      }
      for (const [name, inode] of after) {
        const path = join(dir.path, name)
        if (inode.path !== path) {
          await rename(inode.path, path)
          inode.path = path
          notes.push(`${name} back`)
        }
        survivors.push(inode)
      }
      dir.durable = after
      dir.visible = new Map(after)
      dir.pending = []
    }

    const lastWrite = mode === 'tear' ? newestWrite(survivors) : undefined
    for (const inode of survivors) {
      const changes = inode.pending
      const keep = mode === 'process' ? changes.length : mode === 'writeback' ? pickInt(random, changes.length) : 0
      let torn: WriteChange | undefined
      if (lastWrite !== undefined && changes.includes(lastWrite)) torn = lastWrite
      if (mode === 'writeback' && keep < changes.length && changes[keep].kind === 'write' && random() < 0.5) torn = changes[keep] as WriteChange
      if (changes.length > keep || torn !== undefined) {
        const handle = await open(inode.path, 'r+')
        try {
          for (let i = changes.length - 1; i >= keep; i--) {
            const change = changes[i]
            if (change.kind === 'write') change.event.lost = true
            await undo(handle, change)
          }
          if (changes.length > keep) notes.push(`${basename(inode.path)}: ${changes.length - keep} of ${changes.length} unsynced changes lost`)
          if (torn !== undefined) {
            const prefix = torn.bytes.length > 1 ? 1 + Math.floor(random() * (torn.bytes.length - 1)) : 0
            await writeAll(handle, torn.bytes.subarray(0, prefix), torn.position)
            notes.push(`${basename(inode.path)}: write of ${torn.bytes.length} bytes at ${torn.position} torn after ${prefix}`)
          }
          inode.size = (await handle.stat()).size
        } finally {
          await handle.close()
        }
      }
      inode.pending = []
    }

    for (const participant of this.#participants) await participant.crash(mode, random)
    this.#generation++
    this.#powerCut = false
    this.#rules = []
    this.#cut = undefined
    const detail = `crash (${mode})${notes.length > 0 ? `: ${notes.join('; ')}` : ''}`
    this.#record({ op: 'crash' }, true).detail = detail
    return detail
  }

  // for FaultyHandle and FaultyIndex

  /** Counts a call against the power-cut rule and the faults; returns its trace event and the fault it hits. */
  enter (call: DiskCall): { event: TraceEvent, fault?: Fault } {
    return this.#enter(call)
  }

  /**
   * Runs an operation on the real file system for generation `generation`: refused once the
   * power is cut; one that finishes after the cut did happen on disk, but nobody learns that.
   */
  async perform<T> (operation: Promise<T>, generation: number, call: DiskCall): Promise<T> {
    const result = await this.#perform(operation, generation, call)
    this.#checkPower(call, generation)
    return result
  }

  fail (event: TraceEvent, err: unknown): unknown {
    return this.#fail(event, err)
  }

  /** Throws `PowerCutError` once the power is cut or `generation` is over. */
  checkPower (call: DiskCall, generation: number): void {
    this.#checkPower(call, generation)
  }

  forget (handle: FileHandle): void {
    this.#handles.delete(handle)
  }

  /** Records a write about to be made, so that a crash can undo it. */
  async noteWrite (inode: Inode, position: number, bytes: Buffer, event: TraceEvent, generation: number): Promise<void> {
    const overlap = Math.max(0, Math.min(inode.size, position + bytes.length) - position)
    const oldBytes = overlap > 0 ? await readRange(inode.path, position, overlap) : Buffer.alloc(0)
    this.#checkPower({ op: 'writev', path: inode.path }, generation)
    inode.pending.push({ kind: 'write', position, bytes, oldBytes, oldSize: inode.size, event })
    inode.size = Math.max(inode.size, position + bytes.length)
  }

  /** Records a truncate about to be made, so that a crash can undo it. */
  async noteTruncate (inode: Inode, size: number, generation: number): Promise<void> {
    const cut = size < inode.size ? await readRange(inode.path, size, inode.size - size) : Buffer.alloc(0)
    this.#checkPower({ op: 'truncate', path: inode.path }, generation)
    inode.pending.push({ kind: 'truncate', size, oldSize: inode.size, cut })
    inode.size = size
  }

  /** Makes the first `changes` unsynced changes of `inode` durable; their writes were synced by `event`. */
  synced (inode: Inode, changes: number, event: TraceEvent): void {
    for (const change of inode.pending.splice(0, changes)) {
      if (change.kind === 'write') change.event.syncedAt = event.seq
    }
  }

  #enter (call: DiskCall): { event: TraceEvent, fault?: Fault } {
    if (this.#powerCut) throw new PowerCutError(call)
    const event = this.#record(call, MUTATING_OPS.has(call.op) || this.#traceAll)
    if (this.#cut !== undefined && this.#cut.when(call) && --this.#cut.remaining === 0) {
      this.#cut = undefined
      event.error = 'power cut'
      this.cutPower()
      throw new PowerCutError(call)
    }
    for (const rule of this.#rules) {
      if (rule.op !== call.op || rule.times === 0 || (rule.when !== undefined && !rule.when(call))) continue
      if (rule.skip > 0) {
        rule.skip--
        continue
      }
      rule.times--
      rule.fired++
      event.error = rule.fault.code ?? `short (${rule.fault.written ?? 0} bytes)`
      return { event, fault: rule.fault }
    }
    return { event }
  }

  #record (call: DiskCall | { op: 'power cut' | 'crash' }, traced: boolean): TraceEvent {
    const event: TraceEvent = { seq: ++this.#seq, generation: this.#generation, ...call }
    if (traced) this.trace.push(event)
    return event
  }

  async #perform<T> (operation: Promise<T>, generation: number, call: DiskCall): Promise<T> {
    if (this.#powerCut || generation !== this.#generation) {
      operation.catch(() => {})
      throw new PowerCutError(call)
    }
    this.#inflight.add(operation)
    try {
      return await operation
    } finally {
      this.#inflight.delete(operation)
    }
  }

  async #settle (): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight])
    // let the continuations of those calls run (they record what the calls did) before the crash reads the model
    await new Promise((resolve) => setImmediate(resolve))
    if (this.#inflight.size > 0) await this.#settle()
  }

  #checkPower (call: DiskCall, generation: number): void {
    if (this.#powerCut || generation !== this.#generation) throw new PowerCutError(call)
  }

  #fail (event: TraceEvent, err: unknown): unknown {
    event.error ??= err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.message) : String(err)
    return err
  }

  #isDurable (inode: Inode): boolean {
    for (const dir of this.#dirs.values()) {
      for (const other of dir.durable.values()) if (other === inode) return true
    }
    return false
  }

  /** The model of directory `path`, made from what is there the first time it is used. */
  async #dir (path: string): Promise<Dir> {
    const known = this.#dirs.get(path)
    if (known !== undefined) return known
    let scan = this.#scans.get(path)
    if (scan === undefined) {
      scan = scanDir(path)
      this.#scans.set(path, scan)
      scan.then((dir) => { this.#dirs.set(path, dir) }, () => { this.#scans.delete(path) })
    }
    const dir = await scan
    this.#dirs.set(path, dir)
    return dir
  }
}

async function scanDir (path: string): Promise<Dir> {
  const entries = new Map<string, Inode>()
  let names: string[] = []
  try {
    names = await readdir(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  for (const name of names) {
    const info = await stat(join(path, name))
    if (info.isFile()) entries.set(name, new Inode(join(path, name), info.size))
  }
  return new Dir(path, entries)
}

class FaultyHandle implements PackFileHandle {
  readonly #disk: FaultyDisk
  readonly #real: FileHandle
  readonly #inode: Inode
  readonly #path: string
  readonly #generation: number

  constructor (disk: FaultyDisk, real: FileHandle, inode: Inode, path: string, generation: number) {
    this.#disk = disk
    this.#real = real
    this.#inode = inode
    this.#path = path
    this.#generation = generation
  }

  async writev (buffers: Uint8Array[], position: number): Promise<{ bytesWritten: number }> {
    const length = buffers.reduce((sum, b) => sum + b.length, 0)
    const call: DiskCall = { op: 'writev', path: this.#path, position, length }
    this.#disk.checkPower(call, this.#generation)
    const { event, fault } = this.#disk.enter(call)
    const toWrite = fault === undefined ? length : Math.min(length, fault.written ?? 0)
    event.written = toWrite
    // a "short" return of at least what was asked for is a complete write
    if (fault !== undefined && fault.code === undefined && toWrite === length) event.error = undefined
    if (toWrite > 0) {
      const bytes = Buffer.concat(buffers, length).subarray(0, toWrite)
      await this.#disk.noteWrite(this.#inode, position, bytes, event, this.#generation)
      await this.#disk.perform(writeAll(this.#real, bytes, position), this.#generation, call)
    }
    if (fault?.code !== undefined) throw this.#disk.fail(event, systemError(fault.code, SYSCALLS.writev))
    return { bytesWritten: toWrite }
  }

  async read (buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    const call: DiskCall = { op: 'read', path: this.#path, position, length }
    this.#disk.checkPower(call, this.#generation)
    const { event, fault } = this.#disk.enter(call)
    if (fault !== undefined) throw this.#disk.fail(event, systemError(fault.code ?? 'EIO', SYSCALLS.read))
    return await this.#disk.perform(this.#real.read(buffer, offset, length, position), this.#generation, call)
  }

  async datasync (): Promise<void> {
    const call: DiskCall = { op: 'datasync', path: this.#path }
    this.#disk.checkPower(call, this.#generation)
    const { event, fault } = this.#disk.enter(call)
    // a failed fsync makes nothing durable (and on Linux forgets that the pages were dirty)
    if (fault !== undefined) throw this.#disk.fail(event, systemError(fault.code ?? 'EIO', SYSCALLS.datasync))
    const changes = this.#inode.pending.length
    if (this.#disk.realSync) await this.#disk.perform(this.#real.datasync(), this.#generation, call)
    this.#disk.synced(this.#inode, changes, event)
  }

  async truncate (length: number): Promise<void> {
    const call: DiskCall = { op: 'truncate', path: this.#path, size: length }
    this.#disk.checkPower(call, this.#generation)
    const { event, fault } = this.#disk.enter(call)
    if (fault !== undefined) throw this.#disk.fail(event, systemError(fault.code ?? 'EIO', SYSCALLS.truncate))
    await this.#disk.noteTruncate(this.#inode, length, this.#generation)
    await this.#disk.perform(this.#real.truncate(length), this.#generation, call)
  }

  async close (): Promise<void> {
    // after a crash the disk has closed every handle of the old generation already
    if (this.#generation !== this.#disk.generation || this.#disk.powerCut) return
    this.#disk.forget(this.#real)
    await this.#real.close()
  }
}

async function undo (handle: FileHandle, change: DataChange): Promise<void> {
  if (change.kind === 'write') {
    await writeAll(handle, change.oldBytes, change.position)
    if (change.position + change.bytes.length > change.oldSize) await handle.truncate(change.oldSize)
  } else if (change.size < change.oldSize) {
    await writeAll(handle, change.cut, change.size)
  } else {
    await handle.truncate(change.oldSize)
  }
}

async function writeAll (handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done)
    done += bytesWritten
  }
}

async function readRange (path: string, position: number, length: number): Promise<Buffer> {
  const handle = await open(path, 'r')
  try {
    const buffer = Buffer.alloc(length)
    let done = 0
    while (done < length) {
      const { bytesRead } = await handle.read(buffer, done, length - done, position + done)
      if (bytesRead === 0) break
      done += bytesRead
    }
    return buffer.subarray(0, done)
  } finally {
    await handle.close()
  }
}

function newestWrite (inodes: Inode[]): WriteChange | undefined {
  let newest: WriteChange | undefined
  for (const inode of inodes) {
    for (const change of inode.pending) {
      if (change.kind === 'write' && (newest === undefined || change.event.seq > newest.event.seq)) newest = change
    }
  }
  return newest
}

/** An integer in [0, n]. */
function pickInt (random: () => number, n: number): number {
  return Math.min(n, Math.floor(random() * (n + 1)))
}
