/**
 * The repository's LevelDB as seen by a `FaultyDisk`: `wrap(db)` routes the root database's
 * `batch` (the only way the block store writes its index) through the disk, so that
 * - each index batch is a trace event with its `sync` flag and what it wrote (block locations,
 *   pack lengths, other ops), in the same sequence as the pack writes and syncs;
 * - each batch is checked against the disk model when it is written: an entry for pack bytes
 *   that are not durable yet, a committed length past them, or a pack record deleted while its
 *   non-empty file could still come back, is listed in `batch.notDurable`;
 * - `batch` faults fail a batch before it is applied, and a power cut stops batches;
 * - a crash rolls back batches LevelDB could lose: those after the last synced batch that was
 *   acknowledged (LevelDB has one log, written in order: a synced batch makes every earlier one
 *   durable). `drop` and `tear` lose all of them, `writeback` a random suffix, `process` none.
 *
 * Not modelled: damage inside LevelDB's own files (a torn log record, a lost MANIFEST or table
 * file), writes through anything other than the root database's array `batch`, and batches
 * reordered by LevelDB itself. Real batches are written without fsync: the model decides what
 * survives, so real syncs would only cost time.
 */
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { decodeLocation } from '../../src/store/location.ts'
import { packFileName } from '../../src/store/pack-format.ts'
import type { RootDb } from '../../src/store/sublevels.ts'
import type { BatchSummary, CrashMode, CrashParticipant, FaultyDisk, TraceEvent } from './faulty-disk.ts'

interface BatchOp {
  type: 'put' | 'del'
  key: any
  value?: any
  sublevel?: any
}

interface JournalEntry {
  event: TraceEvent
  ops: BatchOp[]
  /** each op's key's value before the batch (undefined: absent) */
  prior: unknown[]
  db: RootDb
  realBatch: (ops: BatchOp[], options: object) => Promise<void>
}

export class FaultyIndex implements CrashParticipant {
  readonly #disk: FaultyDisk
  readonly #packsDir: string
  /** batches after the last acknowledged synced one, oldest first */
  #journal: JournalEntry[] = []
  #queue: Promise<unknown> = Promise.resolve()

  constructor (disk: FaultyDisk, packsDir: string) {
    this.#disk = disk
    this.#packsDir = packsDir
    disk.attach(this)
  }

  /** Routes `db.batch` through the disk until the next crash; returns `db`. Wrap each reopened db again. */
  wrap (db: RootDb): RootDb {
    const generation = this.#disk.generation
    // from the prototype: a db wrapped before (reopened after a crash) must not go through the old wrapper
    const realBatch = Object.getPrototypeOf(db).batch.bind(db) as JournalEntry['realBatch']
    const batch = async (ops: BatchOp[], options?: { sync?: boolean }): Promise<void> => {
      if (!Array.isArray(ops)) throw new Error('faulty index: only array batches are modelled')
      const run = this.#queue.then(async () => await this.#write(db, realBatch, generation, ops, options?.sync === true))
      this.#queue = run.catch(() => {})
      await run
    }
    Object.defineProperty(db, 'batch', { value: batch, configurable: true, writable: true })
    return db
  }

  async settle (): Promise<void> {
    await this.#queue
  }

  async crash (mode: CrashMode, random: () => number): Promise<void> {
    await this.#queue
    const n = this.#journal.length
    const lose = mode === 'process' ? 0 : mode === 'writeback' ? Math.min(n, Math.floor(random() * (n + 1))) : n
    for (const entry of this.#journal.slice(n - lose).reverse()) {
      entry.event.lost = true
      const undo: BatchOp[] = entry.ops.map((op, i): BatchOp => entry.prior[i] === undefined
        ? { type: 'del', key: op.key, sublevel: op.sublevel }
        : { type: 'put', key: op.key, value: entry.prior[i], sublevel: op.sublevel }).reverse()
      await entry.realBatch(undo, {})
    }
    this.#journal = []
  }

  async #write (db: RootDb, realBatch: JournalEntry['realBatch'], generation: number, ops: BatchOp[], sync: boolean): Promise<void> {
    const call = { op: 'batch' as const, sync }
    this.#disk.checkPower(call, generation)
    const { event, fault } = this.#disk.enter(call)
    event.batch = this.#summarize(ops)
    if (fault !== undefined) {
      throw this.#disk.fail(event, Object.assign(new Error(`IO error: injected ${fault.code ?? 'EIO'} writing the index`), { code: 'LEVEL_IO_ERROR' }))
    }
    const prior = await Promise.all(ops.map(async (op) => await (op.sublevel ?? db).get(op.key)))
    this.#disk.checkPower(call, generation)
    const entry: JournalEntry = { event, ops, prior, db, realBatch }
    this.#journal.push(entry)
    await this.#disk.perform(realBatch(ops, {}), generation, call)
    if (sync) this.#journal = this.#journal.slice(this.#journal.indexOf(entry) + 1)
  }

  #summarize (ops: BatchOp[]): BatchSummary {
    const summary: BatchSummary = { blocks: [], packs: [], ops: [], notDurable: [] }
    for (const op of ops) {
      const sublevel = op.sublevel === undefined ? '' : (op.sublevel.path() as string[]).join('/')
      if (sublevel === 'blocks' && op.type === 'put') {
        const location = decodeLocation(op.value)
        const path = join(this.#packsDir, packFileName(location.pack))
        const cid = CID.decode(op.key).toString()
        summary.blocks.push({ cid, path, offset: location.offset, storedLength: location.storedLength })
        if (!this.#disk.isDurable(path, location.offset, location.offset + location.storedLength)) {
          summary.notDurable.push(`block ${cid} at ${location.offset}+${location.storedLength} of ${path}`)
        }
      } else if (sublevel === 'packs') {
        const path = join(this.#packsDir, packFileName(Number(op.key)))
        const length = op.type === 'put' ? op.value as number : undefined
        summary.packs.push({ path, length })
        if (length !== undefined && !this.#disk.isDurable(path, 0, length)) summary.notDurable.push(`committed length ${length} of ${path}`)
        if (length === undefined && !this.#disk.isDurablyEmpty(path)) summary.notDurable.push(`record of ${path} deleted while a crash would bring its bytes back`)
      } else {
        summary.ops.push({ sublevel, type: op.type, key: String(op.key) })
      }
    }
    return summary
  }
}
