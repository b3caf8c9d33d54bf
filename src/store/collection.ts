import { CID } from 'multiformats/cid'
import { CorruptBlockError } from '../errors.ts'
import type { SerialQueue } from '../common/serial-queue.ts'
import type { Collection, CollectOptions, IndexOp, PackUse, SweepHooks, SweepPlan, SweepResult } from './api.ts'
import { BloomFilter } from './bloom.ts'
import { decodeBody } from './block-codec.ts'
import { LOOKUP_BATCH } from './constants.ts'
import type { StoreLimits } from './constants.ts'
import { PackWriteError } from './errors.ts'
import { decodeLocation, encodeLocation } from './location.ts'
import type { BlockLocation } from './location.ts'
import { encodeRecordHeader, PACK_HEADER, PACK_HEADER_SIZE, recordHeaderLength } from './pack-format.ts'
import { writeFully } from './pack-files.ts'
import type { OpenPackFile, PackDirectory } from './pack-files.ts'
import { scanPack } from './pack-scanner.ts'
import type { Quarantine } from './quarantine.ts'
import { packKey } from './recovery.ts'
import type { BlocksSublevel, JsonSublevel, RootDb } from './sublevels.ts'
import type { WritablePack } from './writer.ts'

/** Nodes the mark reads at once (the store decompresses on the thread pool). */
const READ_CONCURRENCY = 16
/** Index entries removed per synced batch. */
const REMOVE_BATCH = 4096
/** restic's default `--max-unused`: rewrite until the dead bytes left are at most 5% of the repository. */
export const DEFAULT_MAX_UNUSED = 0.05

/** What a collection needs of its store (PackBlockStore); nothing outside src/store/ sees it. */
export interface CollectionHost {
  readonly dir: string
  readonly limits: StoreLimits
  readonly db: RootDb
  readonly blocks: BlocksSublevel
  readonly packs: JsonSublevel<number>
  readonly quarantine: Quarantine
  /** the queue every write of the `blocks` index goes through */
  readonly indexWrites: SerialQueue
  readonly openFile: OpenPackFile
  readonly directory: PackDirectory
  /** committed length of every pack */
  lengths (): ReadonlyMap<number, number>
  /** packs a writer holds now */
  held (): ReadonlySet<number>
  pathOf (pack: number): string
  readBlock (cid: CID, location: BlockLocation): Promise<Uint8Array>
  /** keeps `packs` from writers (they are neither appended to nor handed out) until `unreserve` */
  reserve (packs: number[]): void
  unreserve (packs: number[]): void
  acquirePack (bytes: number): Promise<WritablePack>
  releasePack (pack: WritablePack): void
  retirePack (pack: WritablePack): Promise<void>
  /** records a pack's new committed length (its index batch is written) */
  commitLength (pack: number, length: number): void
  /** forgets packs whose committed length is now 0: their lengths and read handles */
  dropped (packs: number[]): void
  /** quarantines a block whose copy at `value` was found damaged, unless its entry changed */
  quarantineIfAt (cid: CID, value: Uint8Array, reason: string): Promise<boolean>
  collectionEnded (collection: GarbageCollection): void
}

type Phase = 'marking' | 'planned' | 'removing' | 'rewriting' | 'ended'

/**
 * One garbage collection of a pack store (docs/retention.md, "Garbage collection").
 *
 * The live set is a Bloom filter of CIDs (no false negatives) plus the exact set of nodes whose
 * children have been marked. From the moment the collection starts, every block the store
 * reports present or stores is `touch`ed: it joins the live set, and a node is queued to have
 * its closure marked. Queued nodes are walked before the plan reads the index and before every
 * batch that removes index entries; a block touched while such a batch is being written is put
 * back, with everything below it, before anything else is written. So whatever the store says
 * it has during a collection stays, with its closure, however the calls interleave.
 */
export class GarbageCollection implements Collection {
  waitedSeconds = 0
  readonly #host: CollectionHost
  readonly #options: CollectOptions
  readonly #filter: BloomFilter
  /** nodes whose children were marked (or are being marked), by CID bytes as latin1 */
  readonly #nodes = new Set<string>()
  /** nodes touched and not walked yet */
  #pending = new Map<string, CID>()
  /** packs that existed when the collection started: only those may be deleted */
  readonly #oldPacks: ReadonlySet<number>
  /** entries removed by the batch being written: the mark may still read them */
  #justRemoved: Map<string, Uint8Array> | undefined
  /** packs the plan picked and kept from writers */
  #reserved: number[] = []
  #phase: Phase = 'marking'

  constructor (host: CollectionHost, options: CollectOptions, expected: number) {
    this.#host = host
    this.#options = options
    this.#filter = new BloomFilter(expected)
    this.#oldPacks = new Set(host.lengths().keys())
  }

  get memoryBytes (): number {
    // a node key is a 36-byte string in a Set: about 100 bytes with V8's overhead
    return this.#filter.bytes + this.#nodes.size * 100
  }

  /** Entries are being removed: a touch must wait for the batch in flight (see `settle`). */
  get removing (): boolean {
    return this.#phase === 'removing'
  }

  /**
   * A block the store reports present or stores: it is live from now on, with its closure.
   * Returns true when the caller must `settle()` before it trusts its own answer: the block was
   * not live, and a batch removing entries may be in flight.
   */
  touch (cid: CID): boolean {
    // once the dead entries are removed, nothing else is: what is indexed then stays indexed
    if (this.#phase === 'ended' || this.#phase === 'rewriting') return false
    const bytes = cid.bytes
    if (!this.#options.hasLinks(cid)) {
      if (this.#filter.has(bytes)) return false
      this.#filter.add(bytes)
      return this.#phase === 'removing'
    }
    const key = keyOf(bytes)
    if (this.#nodes.has(key)) return false
    this.#filter.add(bytes)
    this.#pending.set(key, cid)
    return this.#phase === 'removing'
  }

  /**
   * Waits until the index batch in flight (if any) is written and every touched node's closure
   * is marked: then whatever was touched is indexed and stays so.
   */
  async settle (): Promise<void> {
    await this.#host.indexWrites.run(async () => { await this.#drain() })
  }

  async mark (roots: CID[]): Promise<CID[]> {
    this.#assertActive()
    const unreadable: CID[] = []
    await this.#walk(roots, unreadable)
    return unreadable
  }

  async read (cid: CID): Promise<Uint8Array> {
    const value = this.#locate(cid)
    if (value === undefined) throw new CorruptBlockError(cid.toString(), 'it is not in the index')
    return await this.#host.readBlock(cid, decodeLocation(value))
  }

  async plan (options: { maxUnused?: number } = {}): Promise<SweepPlan> {
    this.#assertActive()
    if (this.#phase !== 'marking') throw new Error('a collection plans once')
    const maxUnused = options.maxUnused ?? DEFAULT_MAX_UNUSED
    await this.settle()
    const lengths = new Map(this.#host.lengths())
    const use = new Map<number, PackUse>()
    for (const [pack, bytes] of lengths) use.set(pack, { pack, bytes, liveBytes: 0, deadBytes: 0 })
    let liveBlocks = 0
    let deadBlocks = 0
    let deadRecordBytes = 0
    for await (const [key, value] of this.#host.blocks.iterator()) {
      const location = decodeLocation(value)
      const size = recordHeaderLength(key.length) + location.storedLength
      if (this.#filter.has(key)) {
        liveBlocks++
        const pack = use.get(location.pack)
        if (pack !== undefined) pack.liveBytes += size
      } else {
        deadBlocks++
        deadRecordBytes += size
      }
    }
    let deadDamaged = 0
    for await (const key of this.#host.quarantine.sublevel.keys()) {
      if (!this.#filter.has(CID.parse(key).bytes)) deadDamaged++
    }
    let bytes = 0
    let liveBytes = 0
    for (const pack of use.values()) {
      // everything that is not a live record is dead: dead records, copies nobody indexes
      // (duplicates, quarantined copies), the tail of a record cut short
      pack.deadBytes = Math.max(0, pack.bytes - PACK_HEADER_SIZE - pack.liveBytes)
      bytes += pack.bytes
      liveBytes += pack.liveBytes
    }

    const held = this.#host.held()
    const eligible = [...use.values()].filter(p => this.#oldPacks.has(p.pack) && !held.has(p.pack) && p.bytes > 0)
    const remove = eligible.filter(p => p.liveBytes === 0)
    const removing = new Set(remove.map(p => p.pack))
    let deadBytesLeft = 0
    for (const p of use.values()) if (!removing.has(p.pack)) deadBytesLeft += p.deadBytes
    const allowed = maxUnused >= 1 ? Infinity : liveBytes * maxUnused / (1 - maxUnused)
    const candidates = eligible
      .filter(p => p.liveBytes > 0 && p.deadBytes > 0)
      .sort((a, b) => b.deadBytes / b.bytes - a.deadBytes / a.bytes || b.deadBytes - a.deadBytes)
    const rewrite: PackUse[] = []
    for (const p of candidates) {
      if (deadBytesLeft <= allowed) break
      rewrite.push(p)
      deadBytesLeft -= p.deadBytes
    }

    // from here on, synchronously: a pack a writer took (or appended to) during the scan is left
    const now = this.#host.lengths()
    const nowHeld = this.#host.held()
    const untouched = (p: PackUse): boolean => !nowHeld.has(p.pack) && now.get(p.pack) === lengths.get(p.pack)
    const plan: SweepPlan = {
      packs: lengths.size,
      bytes,
      liveBlocks,
      liveBytes,
      deadBlocks,
      deadBytes: deadRecordBytes,
      deadDamaged,
      remove: remove.filter(untouched),
      rewrite: rewrite.filter(untouched),
      deadBytesLeft,
      held: held.size,
      maxUnused
    }
    for (const p of [...remove, ...rewrite]) if (!untouched(p)) plan.deadBytesLeft += p.deadBytes
    this.#reserved = [...plan.remove, ...plan.rewrite].map(p => p.pack)
    this.#host.reserve(this.#reserved)
    this.#phase = 'planned'
    return plan
  }

  async sweep (plan: SweepPlan, hooks: SweepHooks = {}): Promise<SweepResult> {
    this.#assertActive()
    if (this.#phase !== 'planned') throw new Error('sweep follows plan, once')
    const result: SweepResult = { blocksRemoved: 0, damagedRemoved: 0, packsDeleted: 0, packsRewritten: 0, packsKept: 0, packsWritten: 0, bytesCopied: 0, bytesFreed: 0, damaged: [] }
    const removePacks = new Set(plan.remove.map(p => p.pack))
    /** doomed packs that must stay: a block in them is live again, or they did not read */
    const kept = new Set<number>()

    // 1. dead index entries (with the hook's writes) and dead quarantine records, in synced batches
    this.#phase = 'removing'
    await this.#removeDead(plan, removePacks, kept, result, hooks)

    // 2. packs with no live record; 3. the live records of mostly dead packs, copied as they are
    this.#phase = 'rewriting'
    check(hooks.signal)
    const gone = plan.remove.filter(p => !kept.has(p.pack))
    await this.#deletePacks(gone.map(p => p.pack))
    result.packsDeleted = gone.length
    result.bytesFreed += gone.reduce((sum, p) => sum + p.bytes, 0)
    result.packsKept += plan.remove.length - gone.length

    const written = new Set<number>()
    let copiedPacks = 0
    for (const pack of plan.rewrite) {
      check(hooks.signal)
      hooks.onProgress?.('rewrite', copiedPacks, plan.rewrite.length)
      const whole = await this.#copyLive(pack.pack, result, written)
      copiedPacks++
      if (!whole) {
        kept.add(pack.pack)
        result.packsKept++
        continue
      }
      // one pack at a time: the space of each is given back before the next is copied
      await this.#deletePacks([pack.pack])
      result.packsRewritten++
      result.bytesFreed += pack.bytes
    }
    hooks.onProgress?.('rewrite', copiedPacks, plan.rewrite.length)
    result.packsWritten = written.size
    return result
  }

  async end (): Promise<void> {
    if (this.#phase === 'ended') return
    this.#phase = 'ended'
    this.#pending.clear()
    const lengths = this.#host.lengths()
    this.#host.unreserve(this.#reserved.filter(pack => lengths.has(pack)))
    this.#reserved = []
    this.#host.collectionEnded(this)
  }

  // the mark

  async #walk (roots: CID[], unreadable?: CID[]): Promise<void> {
    let level: CID[] = []
    for (const root of roots) this.#visit(root, level)
    while (level.length > 0) {
      const next: CID[] = []
      for (let i = 0; i < level.length; i += READ_CONCURRENCY) {
        const slice = level.slice(i, i + READ_CONCURRENCY)
        const links = await Promise.all(slice.map(async cid => await this.#linksOf(cid)))
        for (let j = 0; j < slice.length; j++) {
          const children = links[j]
          if (children === undefined) {
            // a later touch of it (a good copy arriving) walks it then
            this.#nodes.delete(keyOf(slice[j].bytes))
            unreadable?.push(slice[j])
            continue
          }
          for (const child of children) this.#visit(child, next)
        }
      }
      level = next
    }
  }

  #visit (cid: CID, level: CID[]): void {
    this.#filter.add(cid.bytes)
    if (!this.#options.hasLinks(cid)) return
    const key = keyOf(cid.bytes)
    if (this.#nodes.has(key)) return
    this.#nodes.add(key)
    level.push(cid)
  }

  /** The node's links, or undefined when it is not indexed or its copy does not read. */
  async #linksOf (cid: CID): Promise<CID[] | undefined> {
    const value = this.#locate(cid)
    if (value === undefined) return undefined
    let bytes: Uint8Array
    try {
      bytes = await this.#host.readBlock(cid, decodeLocation(value))
    } catch (err) {
      if (err instanceof CorruptBlockError || typeof (err as NodeJS.ErrnoException).code === 'string') return undefined
      throw err
    }
    return this.#options.links(cid, bytes)
  }

  #locate (cid: CID): Uint8Array | undefined {
    return this.#host.blocks.getSync(cid.bytes) ?? this.#justRemoved?.get(keyOf(cid.bytes))
  }

  /** Marks the closure of every node touched since the last drain. Run inside the index queue. */
  async #drain (): Promise<void> {
    while (this.#pending.size > 0) {
      const nodes = [...this.#pending.values()]
      this.#pending = new Map()
      await this.#walk(nodes.filter(cid => !this.#nodes.has(keyOf(cid.bytes))))
    }
  }

  // the sweep

  async #removeDead (plan: SweepPlan, removePacks: Set<number>, kept: Set<number>, result: SweepResult, hooks: SweepHooks): Promise<void> {
    let batch: Array<{ key: Uint8Array, value: Uint8Array }> = []
    const flush = async (): Promise<void> => {
      const entries = batch
      batch = []
      check(hooks.signal)
      result.blocksRemoved += await this.#removeBatch(entries, removePacks, kept, hooks)
      hooks.onProgress?.('remove', result.blocksRemoved, plan.deadBlocks + plan.deadDamaged)
    }
    for await (const [key, value] of this.#host.blocks.iterator()) {
      if (this.#filter.has(key)) {
        // a live block in a pack with no live record at plan time: it became live since
        if (removePacks.size > 0 && removePacks.has(decodeLocation(value).pack)) kept.add(decodeLocation(value).pack)
        continue
      }
      batch.push({ key, value })
      if (batch.length >= REMOVE_BATCH) await flush()
    }
    if (batch.length > 0) await flush()
    result.damagedRemoved = await this.#removeDeadDamaged(hooks)
  }

  /**
   * Removes the entries still dead and unchanged, with the hook's writes, in one synced batch;
   * then puts back those touched while it was written (with what lies below them). Returns how
   * many stay removed.
   */
  async #removeBatch (entries: Array<{ key: Uint8Array, value: Uint8Array }>, removePacks: Set<number>, kept: Set<number>, hooks: SweepHooks): Promise<number> {
    return await this.#host.indexWrites.run(async () => {
      await this.#drain()
      const dead: Array<{ key: Uint8Array, value: Uint8Array }> = []
      for (const entry of entries) {
        if (this.#filter.has(entry.key)) {
          const pack = decodeLocation(entry.value).pack
          if (removePacks.has(pack)) kept.add(pack)
          continue
        }
        const current = this.#host.blocks.getSync(entry.key)
        // changed since the scan (healed, quarantined): a writer's, not this batch's
        if (current === undefined || !Buffer.from(current).equals(entry.value)) continue
        dead.push(entry)
      }
      if (dead.length === 0) return 0
      const cids = dead.map(e => CID.decode(e.key))
      const ops: any[] = dead.map(e => ({ type: 'del', sublevel: this.#host.blocks, key: e.key }))
      ops.push(...this.#indexOps(await hooks.removed?.(cids) ?? []))
      this.#justRemoved = new Map(dead.map(e => [keyOf(e.key), e.value]))
      try {
        await this.#host.db.batch(ops, { sync: true })
        // blocks reported present while the batch was written are live: back they go, and what is below them
        await this.#drain()
        const back = dead.filter(e => this.#filter.has(e.key))
        if (back.length > 0) {
          await this.#host.db.batch(back.map(e => ({ type: 'put', sublevel: this.#host.blocks, key: e.key, value: e.value })) as any, { sync: true })
          for (const e of back) {
            const pack = decodeLocation(e.value).pack
            if (removePacks.has(pack)) kept.add(pack)
          }
        }
        return dead.length - back.length
      } finally {
        this.#justRemoved = undefined
      }
    })
  }

  /** Quarantine records of blocks no point needs any more: there is nothing left to heal. */
  async #removeDeadDamaged (hooks: SweepHooks): Promise<number> {
    const dead: CID[] = []
    for await (const key of this.#host.quarantine.sublevel.keys()) {
      const cid = CID.parse(key)
      if (!this.#filter.has(cid.bytes)) dead.push(cid)
    }
    let removed = 0
    for (let i = 0; i < dead.length; i += REMOVE_BATCH) {
      check(hooks.signal)
      const slice = dead.slice(i, i + REMOVE_BATCH)
      removed += await this.#host.indexWrites.run(async () => {
        await this.#drain()
        const still = slice.filter(cid => this.#host.quarantine.has(cid) && !this.#filter.has(cid.bytes))
        if (still.length === 0) return 0
        const ops: any[] = still.map(cid => ({ type: 'del', sublevel: this.#host.quarantine.sublevel, key: cid.toString() }))
        ops.push(...this.#indexOps(await hooks.removed?.(still) ?? []))
        await this.#host.db.batch(ops, { sync: true })
        this.#host.quarantine.removed(still)
        return still.length
      })
    }
    return removed
  }

  #indexOps (ops: IndexOp[]): any[] {
    return ops.map(op => {
      const sublevel = this.#host.db.sublevel(op.sublevel, { keyEncoding: 'utf8', valueEncoding: 'json' })
      return op.type === 'put' ? { type: 'put', sublevel, key: op.key, value: op.value } : { type: 'del', sublevel, key: op.key }
    })
  }

  /**
   * Copies every record of `pack` that is the indexed copy of its block, stored body as it is,
   * into packs writers also use (append, fsync, then an index batch that moves each entry only
   * if it still points at the old copy). Each body is decompressed and rehashed first: a copy
   * that fails is quarantined, not copied. Returns false when the pack could not be read to its
   * end: it must stay.
   */
  async #copyLive (pack: number, result: SweepResult, written: Set<number>): Promise<boolean> {
    const path = this.#host.pathOf(pack)
    const length = this.#host.lengths().get(pack)
    if (length === undefined) return false
    let handle
    try {
      handle = await this.#host.openFile(path, 'r')
    } catch {
      return false
    }
    let out: CopiedRecord[] = []
    let outBytes = 0
    try {
      for await (const item of scanPack(handle, path, length)) {
        if ('problem' in item) return false
        for (let i = 0; i < item.records.length; i += LOOKUP_BATCH) {
          const records = item.records.slice(i, i + LOOKUP_BATCH)
          const values = await this.#host.blocks.getMany(records.map(r => r.cid))
          for (let j = 0; j < records.length; j++) {
            const value = values[j]
            const record = records[j]
            if (value === undefined) continue
            const location = decodeLocation(value)
            if (location.pack !== pack || location.offset !== record.bodyOffset) continue
            // the scan window is reused: the copy keeps its own CID and body
            const cid = CID.decode(record.cid.slice())
            try {
              await decodeBody(cid, record.flags, record.body, location.rawLength)
            } catch (err) {
              if (!(err instanceof CorruptBlockError)) throw err
              if (await this.#host.quarantineIfAt(cid, value, `its copy did not verify while prune copied it: ${err.detail}`)) result.damaged.push(cid.toString())
              continue
            }
            out.push({ cid, flags: record.flags, body: record.body.slice(), rawLength: location.rawLength, value })
            outBytes += record.end - record.start
            if (outBytes >= this.#host.limits.flushBytes) {
              await this.#writeCopies(out, result, written)
              out = []
              outBytes = 0
            }
          }
        }
      }
    } catch (err) {
      if (err instanceof PackWriteError) throw err
      // a read error (EIO): what was copied is moved; the pack stays with the rest
      if (typeof (err as NodeJS.ErrnoException).code === 'string') {
        await this.#writeCopies(out, result, written)
        return false
      }
      throw err
    } finally {
      await handle.close()
    }
    await this.#writeCopies(out, result, written)
    return true
  }

  /** Appends copied records to a pack, fsyncs it, then moves their entries (the normal write order). */
  async #writeCopies (records: CopiedRecord[], result: SweepResult, written: Set<number>): Promise<void> {
    if (records.length === 0) return
    let recordBytes = 0
    for (const r of records) recordBytes += recordHeaderLength(r.cid.bytes.length) + r.body.length
    const pack = await this.#host.acquirePack(recordBytes + PACK_HEADER_SIZE)
    const buffers: Uint8Array[] = []
    let position = pack.length
    const start = position
    if (position === 0) {
      buffers.push(PACK_HEADER)
      position = PACK_HEADER_SIZE
    }
    const headers = new Uint8Array(records.reduce((n, r) => n + recordHeaderLength(r.cid.bytes.length), 0))
    let h = 0
    const moves: Array<{ key: Uint8Array, from: Uint8Array, to: Uint8Array }> = []
    for (const r of records) {
      const end = encodeRecordHeader(headers, h, r.flags, r.cid.bytes, r.body.length)
      buffers.push(headers.subarray(h, end), r.body)
      position += end - h
      h = end
      moves.push({ key: r.cid.bytes, from: r.value, to: encodeLocation({ flags: r.flags, pack: pack.number, offset: position, storedLength: r.body.length, rawLength: r.rawLength }) })
      position += r.body.length
    }
    try {
      await writeFully(pack.handle, buffers, pack.length, position)
      await pack.handle.datasync()
    } catch (err) {
      await this.#host.retirePack(pack)
      throw new PackWriteError(pack.path, err)
    }
    try {
      await this.#host.indexWrites.run(async () => {
        const ops: any[] = []
        for (const move of moves) {
          const current = this.#host.blocks.getSync(move.key)
          // moved only if it still points at the copy read: a writer may have replaced it meanwhile
          if (current !== undefined && Buffer.from(current).equals(move.from)) ops.push({ type: 'put', sublevel: this.#host.blocks, key: move.key, value: move.to })
        }
        ops.push({ type: 'put', sublevel: this.#host.packs, key: packKey(pack.number), value: position })
        // not synced: lost, the entries still point at the old copies, which stay until a synced batch
        await this.#host.db.batch(ops, { sync: false })
        pack.length = position
        this.#host.commitLength(pack.number, position)
      })
    } catch (err) {
      await this.#host.retirePack(pack)
      throw err
    }
    this.#host.releasePack(pack)
    written.add(pack.number)
    result.bytesCopied += recordBytes
    result.bytesFreed -= position - start
  }

  /**
   * Deletes packs no index entry points into: committed length 0 (synced; opening the store
   * deletes such a pack and its record), unlink, directory fsync, then the records.
   */
  async #deletePacks (packs: number[]): Promise<void> {
    if (packs.length === 0) return
    await this.#host.indexWrites.run(async () => {
      await this.#host.db.batch(packs.map(pack => ({ type: 'put' as const, sublevel: this.#host.packs, key: packKey(pack), value: 0 })), { sync: true })
      this.#host.dropped(packs)
    })
    for (const pack of packs) {
      try {
        await this.#host.directory.unlink(this.#host.pathOf(pack))
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      }
    }
    await this.#host.directory.sync(this.#host.dir)
    await this.#host.db.batch(packs.map(pack => ({ type: 'del' as const, sublevel: this.#host.packs, key: packKey(pack) })), { sync: true })
  }

  #assertActive (): void {
    if (this.#phase === 'ended') throw new Error('the collection has ended')
  }
}

interface CopiedRecord {
  cid: CID
  flags: number
  body: Uint8Array
  rawLength: number
  /** its index entry when it was read */
  value: Uint8Array
}

function keyOf (cidBytes: Uint8Array): string {
  return Buffer.from(cidBytes.buffer, cidBytes.byteOffset, cidBytes.byteLength).toString('latin1')
}

function check (signal: AbortSignal | undefined): void {
  signal?.throwIfAborted()
}
