import { CID } from 'multiformats/cid'
import { CorruptBlockError, MissingBlockError } from '../errors.ts'
import { CollectionRunningError, PackWriteError } from './errors.ts'
import type { BlockStore, BlockWriter, Collection, CollectOptions, IndexOp, StoredBlock, StoredRead, StoreStats, VerifyResult } from './api.ts'
import { readAhead } from '../common/concurrency.ts'
import { GarbageCollection } from './collection.ts'
import type { CollectionHost } from './collection.ts'
import { decodeBody } from './block-codec.ts'
import { DEFAULT_LIMITS } from './constants.ts'
import type { StoreLimits } from './constants.ts'
import { decodeLocation, encodeLocation } from './location.ts'
import type { BlockLocation } from './location.ts'
import { FLAG_ZSTD, parsePackFileName } from './pack-format.ts'
import { firstFrameOnly } from './zstd-frame.ts'
import { ReadHandles } from './pack-files.ts'
import type { OpenPackFile, PackDirectory, PackFileHandle } from './pack-files.ts'
import { packKey, recoverPacks } from './recovery.ts'
import { blocksSublevel, jsonSublevel, packsSublevel } from './sublevels.ts'
import type { BlocksSublevel, JsonSublevel, RootDb } from './sublevels.ts'
import { verifyStore } from './verify.ts'
import { PackWriter } from './writer.ts'
import type { IndexedBlock, WritablePack, WriterHost } from './writer.ts'
import { Quarantine } from './quarantine.ts'
import { salvageBlocks } from './salvage.ts'
import type { DamagedBlock } from './quarantine.ts'
import { SerialQueue } from '../common/serial-queue.ts'
import { localPackStorage, packPath } from './storage.ts'
import type { PackStorage, StorageUsage } from './storage.ts'

export interface BlockStoreOptions {
  /** the repository's `packs/` directory (created when missing), when the packs are local files */
  dir?: string
  /** where the packs live (docs/storage.md); default: local files in `dir`. The store closes it. */
  storage?: PackStorage
  /** the repository's root LevelDB */
  db: RootDb
  /** opens local pack files (without `storage`); tests inject handles that fail like a full or broken disk */
  openFile?: OpenPackFile
  /** creates, lists, deletes local pack files and syncs their directory; tests inject a disk that crashes */
  directory?: PackDirectory
  /** pack and flush sizes (defaults in constants.ts) */
  limits?: Partial<StoreLimits>
}

/** `getStoredMany`: a gap between two blocks' bodies up to which one read takes both. */
const RUN_GAP = 64 * 1024
/** `getStoredMany`: bytes of one read at most (a block larger than this is read alone). */
const RUN_BYTES = 1024 * 1024
/** `getStoredMany`: runs read while the caller takes the blocks of the one before. */
const RUNS_AHEAD = 2

/**
 * A block's stored form, proved as `get` would prove it (decompressed and rehashed:
 * `CorruptBlockError` otherwise); the body goes out as it is, one zstd frame (firstFrameOnly).
 */
async function provedStored (cid: CID, location: BlockLocation, body: Uint8Array): Promise<StoredBlock> {
  await decodeBody(cid, location.flags, body, location.rawLength)
  return { flags: location.flags, body: (location.flags & FLAG_ZSTD) !== 0 ? firstFrameOnly(body) : body, rawLength: location.rawLength }
}

/** The block store over pack files and the LevelDB index. See api.ts and docs/formats.md. */
export class PackBlockStore implements BlockStore, WriterHost {
  readonly limits: StoreLimits
  readonly #dir: string
  readonly #db: RootDb
  readonly #blocks: BlocksSublevel
  readonly #packs: JsonSublevel<number>
  readonly #openFile: OpenPackFile
  readonly #directory: PackDirectory
  readonly #storage: PackStorage
  readonly #reads: ReadHandles
  /** committed length of every pack */
  readonly #lengths: Map<number, number>
  #nextPack: number
  /** open packs with room, not held by any writer */
  readonly #idle: WritablePack[] = []
  /** packs with room from earlier runs, not opened for writing yet */
  readonly #reusable: number[]
  /** open writers, each with the callback that tells a collection waiting for it that it closed */
  readonly #writers = new Map<PackWriter, Array<() => void>>()
  /** packs a writer holds */
  readonly #held = new Set<number>()
  /** packs a garbage collection is about to delete or rewrite: never handed to a writer */
  readonly #reserved = new Set<number>()
  #collection: GarbageCollection | undefined
  readonly #opSublevels = new Map<string, JsonSublevel>()
  readonly #quarantine: Quarantine
  /**
   * Every write of the `blocks` index goes through this queue: quarantining a block compares its
   * entry with the copy found damaged, and a writer healing it replaces that entry; neither may
   * interleave with the other.
   */
  readonly #indexWrites = new SerialQueue()
  #closed = false

  private constructor (options: { storage: PackStorage, db: RootDb, limits: Partial<StoreLimits> }, blocks: BlocksSublevel, packs: JsonSublevel<number>, lengths: Map<number, number>, nextPack: number, quarantine: Quarantine) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits }
    this.#storage = options.storage
    this.#dir = options.storage.location
    this.#db = options.db
    this.#openFile = options.storage.openFile
    this.#directory = options.storage.directory
    this.#blocks = blocks
    this.#packs = packs
    this.#reads = new ReadHandles(this.#openFile, (pack) => this.#packPath(pack))
    this.#lengths = lengths
    this.#nextPack = nextPack
    // a pack in an object store is written once: none is appended to again
    this.#reusable = this.sealOnce ? [] : [...lengths].filter(([, length]) => length < this.limits.packTargetSize).map(([pack]) => pack)
    this.#quarantine = quarantine
  }

  /** Opens the store, first cutting every pack back to its committed length (see recovery.ts). */
  static async open (options: BlockStoreOptions): Promise<PackBlockStore> {
    let storage = options.storage
    if (storage === undefined) {
      if (options.dir === undefined) throw new TypeError('a block store needs a pack directory or a pack storage')
      storage = localPackStorage(options.dir, { openFile: options.openFile, directory: options.directory })
    }
    try {
      const blocks = blocksSublevel(options.db)
      const packs = packsSublevel(options.db)
      await blocks.open() // getSync() does not wait for a sublevel to open
      const { lengths, nextPack } = await recoverPacks(storage, options.db, packs)
      return new PackBlockStore({ storage, db: options.db, limits: options.limits ?? {} }, blocks, packs, lengths, nextPack, await Quarantine.open(options.db))
    } catch (err) {
      await storage.close()
      throw err
    }
  }

  async has (cid: CID): Promise<boolean> {
    const present = await this.#blocks.has(cid.bytes)
    const collection = this.#collection
    if (!present || collection === undefined || !collection.touch(cid)) return present
    // a garbage collection may be removing it right now: it is live from here on; ask again once settled
    await collection.settle()
    return await this.#blocks.has(cid.bytes)
  }

  async hasMany (cids: CID[]): Promise<boolean[]> {
    if (cids.length === 0) return []
    const keys = cids.map((cid) => cid.bytes)
    const present = await this.#blocks.hasMany(keys)
    const collection = this.#collection
    if (collection === undefined) return present
    let settle = false
    for (let i = 0; i < cids.length; i++) if (present[i] && collection.touch(cids[i])) settle = true
    if (!settle) return present
    await collection.settle()
    return await this.#blocks.hasMany(keys)
  }

  async get (cid: CID): Promise<Uint8Array> {
    return await this.#readIndexed(cid, async (location) => await this.readBlock(cid, location))
  }

  async getStored (cid: CID): Promise<StoredBlock> {
    return await this.#readIndexed(cid, async (location) => await provedStored(cid, location, await this.#readBody(cid, location)))
  }

  /**
   * See `BlockStore.getStoredMany`. The blocks are located first (and sorted by pack and
   * offset when asked for the store's order); consecutive ones in one pack
   * whose bodies lie in increasing order with gaps under `RUN_GAP` form a run of at most
   * `RUN_BYTES`, read with one read (up to `RUNS_AHEAD` runs read ahead while the caller takes
   * the blocks of the one before). Each body is then proved from the run's buffer as `getStored`
   * proves it. A block that is not indexed, whose run could not be read whole or that fails its
   * proof goes the way of `getStored` alone, which reads it again, follows a garbage
   * collection's move and quarantines a damaged copy: the fast path never decides a block is
   * damaged. The bodies handed out are views of their run's buffer.
   */
  async * getStoredMany (cids: CID[], options: { order?: 'given' | 'store' } = {}): AsyncGenerator<StoredRead> {
    const located: Array<{ cid: CID, location: BlockLocation | undefined }> = []
    for (const cid of cids) {
      const value = await this.#locate(cid)
      located.push({ cid, location: value === undefined ? undefined : decodeLocation(value) })
    }
    if (options.order === 'store') {
      // the blocks not indexed last, each alone
      located.sort((a, b) => a.location === undefined || b.location === undefined
        ? (a.location === undefined ? 1 : 0) - (b.location === undefined ? 1 : 0)
        : a.location.pack - b.location.pack || a.location.offset - b.location.offset)
    }
    const runs: Array<Array<{ cid: CID, location: BlockLocation | undefined }>> = []
    let run: Array<{ cid: CID, location: BlockLocation | undefined }> = []
    let start = 0
    let end = 0
    for (const { cid, location } of located) {
      const last = run.at(-1)?.location
      const joins = location !== undefined && last !== undefined && location.pack === last.pack &&
        location.offset >= end && location.offset - end <= RUN_GAP && location.offset + location.storedLength - start <= RUN_BYTES
      if (!joins && run.length > 0) {
        runs.push(run)
        run = []
      }
      if (location !== undefined && !joins) start = location.offset
      if (location !== undefined) end = location.offset + location.storedLength
      run.push({ cid, location })
      // a block that is not indexed travels alone: getStored says why
      if (location === undefined) {
        runs.push(run)
        run = []
      }
    }
    if (run.length > 0) runs.push(run)
    const reads = readAhead(runs, RUNS_AHEAD, async (blocks) => await this.#readRun(blocks))
    for await (const { blocks, buffer, first } of reads) {
      for (const { cid, location } of blocks) {
        let stored: StoredBlock | undefined
        if (location !== undefined && buffer !== undefined) {
          const at = location.offset - first
          const body = buffer.subarray(at, at + location.storedLength)
          if (body.length === location.storedLength) {
            try {
              stored = await provedStored(cid, location, body)
            } catch (err) {
              if (!(err instanceof CorruptBlockError)) throw err
            }
          }
        }
        if (stored !== undefined) {
          yield { cid, stored }
          continue
        }
        try {
          yield { cid, stored: await this.getStored(cid) }
        } catch (err) {
          if (err instanceof MissingBlockError || err instanceof CorruptBlockError) yield { cid, error: err }
          else throw err
        }
      }
    }
  }

  /** The bytes of a run of blocks (see `getStoredMany`); no buffer when they cannot be read. */
  async #readRun (blocks: Array<{ cid: CID, location: BlockLocation | undefined }>): Promise<{ blocks: typeof blocks, buffer: Uint8Array | undefined, first: number }> {
    const first = blocks[0].location
    const last = blocks.at(-1)!.location
    if (first === undefined || last === undefined) return { blocks, buffer: undefined, first: 0 }
    try {
      const buffer = await this.#reads.read(first.pack, first.offset, last.offset + last.storedLength - first.offset)
      return { blocks, buffer, first: first.offset }
    } catch {
      // each block alone then, where getStored names what is wrong
      return { blocks, buffer: undefined, first: 0 }
    }
  }

  /**
   * Reads an indexed block with `read` (during a garbage collection the block is live from here
   * on); a copy found damaged is quarantined, as on every read.
   */
  async #readIndexed<T> (cid: CID, read: (location: BlockLocation) => Promise<T>): Promise<T> {
    let value = await this.#locate(cid)
    if (value === undefined) {
      const damaged = await this.#quarantine.get(cid)
      if (damaged !== undefined) {
        throw new CorruptBlockError(cid.toString(), `its stored copy was found damaged on ${damaged.at} (${damaged.reason}); it waits for a good copy from a backup of the same data, a replication, a seed drive or drcore repair`)
      }
      throw new MissingBlockError(cid.toString())
    }
    for (let attempt = 0; ; attempt++) {
      try {
        return await read(decodeLocation(value))
      } catch (err) {
        const damage = damageOf(err)
        if (damage === undefined) throw err
        // garbage collection moved the block and deleted the pack it was read from: read it where it is now
        const now = this.#blocks.getSync(cid.bytes)
        if (now !== undefined && !Buffer.from(now).equals(value) && attempt < 3) {
          value = now
          continue
        }
        await this.#quarantineIfAt(cid, value, damage)
        throw err
      }
    }
  }

  /** The block's index entry; during a garbage collection the block is live from here on. */
  async #locate (cid: CID): Promise<Uint8Array | undefined> {
    const value = this.#blocks.getSync(cid.bytes)
    const collection = this.#collection
    if (collection === undefined) return value
    if (value !== undefined ? !collection.touch(cid) : !collection.removing) return value
    // being removed, or removed and put back by the batch in flight: ask once that batch is settled
    await collection.settle()
    const now = this.#blocks.getSync(cid.bytes)
    if (now !== undefined) collection.touch(cid)
    return now
  }

  async size (cid: CID): Promise<number | undefined> {
    const value = this.#blocks.getSync(cid.bytes)
    return value === undefined ? undefined : decodeLocation(value).rawLength
  }

  async storedSize (cid: CID): Promise<number | undefined> {
    const value = this.#blocks.getSync(cid.bytes)
    return value === undefined ? undefined : decodeLocation(value).storedLength
  }

  writer (): BlockWriter {
    this.#assertOpen()
    const writer = new PackWriter(this)
    this.#writers.set(writer, [])
    return writer
  }

  async * entries (): AsyncIterable<{ cid: CID, size: number, storedSize: number }> {
    for await (const [key, value] of this.#blocks.iterator()) {
      const location = decodeLocation(value)
      yield { cid: CID.decode(key), size: location.rawLength, storedSize: location.storedLength }
    }
  }

  async stats (): Promise<StoreStats> {
    let blocks = 0
    let rawBytes = 0
    let storedBytes = 0
    for await (const value of this.#blocks.values()) {
      const location = decodeLocation(value)
      blocks++
      rawBytes += location.rawLength
      storedBytes += location.storedLength
    }
    let packs = 0
    let packBytes = 0
    for (const name of await this.#directory.readdir(this.#dir)) {
      if (parsePackFileName(name) === undefined) continue
      packs++
      packBytes += await this.#directory.size(`${this.#dir}/${name}`)
    }
    const objectStore = this.#storage.usage()
    return objectStore === undefined ? { blocks, rawBytes, storedBytes, packs, packBytes } : { blocks, rawBytes, storedBytes, packs, packBytes, objectStore }
  }

  verifyAll (onProgress?: (done: number, total: number) => void): AsyncIterable<VerifyResult> {
    return verifyStore({
      blocks: this.#blocks,
      lengths: this.#lengths,
      pathOf: (pack) => this.#packPath(pack),
      openFile: this.#openFile,
      readBlock: async (cid, location) => await this.readBlock(cid, location)
    }, onProgress)
  }

  /** Aborts writers still open (their unflushed blocks are dropped), then closes every file. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#collection?.end()
    await Promise.all([...this.#writers.keys()].map(async (writer) => await writer.abort()))
    const idle = this.#idle.splice(0)
    await Promise.all(idle.map(async (pack) => await pack.handle.close()))
    await this.#reads.close()
    await this.#storage.close()
  }

  /** true when packs are written once (an object store): every flush seals its own pack */
  get sealOnce (): boolean {
    return this.#storage.sealOnce
  }

  /** the object store's requests and cache since open; undefined for local packs */
  storageUsage (): StorageUsage | undefined {
    return this.#storage.usage()
  }

  /** Reads one block body at a known location, decompresses and rehashes it. */
  async readBlock (cid: CID, location: BlockLocation): Promise<Uint8Array> {
    return await decodeBody(cid, location.flags, await this.#readBody(cid, location), location.rawLength)
  }

  /** Reads one block's stored body at a known location (a buffer of its own), not decoded. */
  async #readBody (cid: CID, location: BlockLocation): Promise<Uint8Array> {
    const path = this.#packPath(location.pack)
    let body: Uint8Array
    try {
      body = await this.#reads.read(location.pack, location.offset, location.storedLength)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new CorruptBlockError(cid.toString(), `its pack ${path} is missing`)
      throw err
    }
    if (body.length < location.storedLength) {
      throw new CorruptBlockError(cid.toString(), `its index entry points past the end of pack ${path} (body of ${location.storedLength} bytes at offset ${location.offset}, the pack ends at ${location.offset + body.length} or before)`)
    }
    return body
  }

  damaged (): AsyncIterable<DamagedBlock> {
    return this.#quarantine.list()
  }

  async quarantine (blocks: Array<{ cid: CID, reason: string }>): Promise<CID[]> {
    const quarantined: CID[] = []
    for (const { cid, reason } of blocks) {
      const value = this.#blocks.getSync(cid.bytes)
      if (value === undefined) continue
      // a copy that reads well now (a transient error, or healed meanwhile) stays
      let damage: string | undefined
      try {
        await this.readBlock(cid, decodeLocation(value))
      } catch (err) {
        damage = damageOf(err)
        if (damage === undefined) throw err
      }
      if (damage !== undefined && await this.#quarantineIfAt(cid, value, reason.includes(damage) ? reason : `${reason}; read again: ${damage}`)) quarantined.push(cid)
    }
    return quarantined
  }

  async reinstate (): Promise<CID[]> {
    const reinstated: CID[] = []
    for await (const damaged of this.#quarantine.list()) {
      try {
        await this.readBlock(damaged.cid, damaged.location)
      } catch (err) {
        if (damageOf(err) !== undefined) continue
        throw err
      }
      const taken = await this.#indexWrites.run(async () => {
        if (!this.#quarantine.has(damaged.cid) || this.#blocks.getSync(damaged.cid.bytes) !== undefined) return false
        // a pack garbage collection is deleting: the copy goes with it (the block stays in quarantine)
        if (this.#reserved.has(damaged.location.pack) || !this.#lengths.has(damaged.location.pack)) return false
        await this.#db.batch([
          { type: 'put', sublevel: this.#blocks, key: damaged.cid.bytes, value: encodeLocation(damaged.location) },
          { type: 'del', sublevel: this.#quarantine.sublevel, key: damaged.cid.toString() }
        ] as any, { sync: true })
        this.#quarantine.removed([damaged.cid])
        return true
      })
      if (taken) reinstated.push(damaged.cid)
    }
    return reinstated
  }

  async salvage (cids: Iterable<CID>): Promise<CID[]> {
    this.#assertOpen()
    return await salvageBlocks({
      lengths: new Map(this.#lengths),
      pathOf: (pack) => this.#packPath(pack),
      openFile: this.#openFile,
      writer: () => this.writer()
    }, cids)
  }

  async collect (options: CollectOptions): Promise<Collection> {
    this.#assertOpen()
    if (this.#collection !== undefined) throw new CollectionRunningError()
    let indexed = 0
    const keys = this.#blocks.keys()
    try {
      while (await keys.next() !== undefined) indexed++
    } finally {
      await keys.close()
    }
    if (this.#collection !== undefined) throw new CollectionRunningError()
    // synchronously from here: every writer opened after this line is seen by the collection
    const collection = new GarbageCollection(this.#collectionHost(), options, indexed + this.#quarantine.size + (options.slack ?? Math.max(1024, Math.ceil(indexed / 10))))
    this.#collection = collection
    const open = [...this.#writers.keys()]
    if (open.length > 0) {
      const started = performance.now()
      options.onWait?.(open.length)
      await Promise.all(open.map(async (writer) => await new Promise<void>((resolve) => {
        const waiting = this.#writers.get(writer)
        if (waiting === undefined) resolve()
        else waiting.push(resolve)
      })))
      collection.waitedSeconds = (performance.now() - started) / 1000
    }
    return collection
  }

  #collectionHost (): CollectionHost {
    return {
      dir: this.#dir,
      limits: this.limits,
      db: this.#db,
      blocks: this.#blocks,
      packs: this.#packs,
      quarantine: this.#quarantine,
      indexWrites: this.#indexWrites,
      openFile: this.#openFile,
      directory: this.#directory,
      lengths: () => this.#lengths,
      held: () => this.#held,
      pathOf: (pack) => this.#packPath(pack),
      readBlock: async (cid, location) => await this.readBlock(cid, location),
      reserve: (packs) => {
        for (const pack of packs) {
          this.#reserved.add(pack)
          const reusable = this.#reusable.indexOf(pack)
          if (reusable >= 0) this.#reusable.splice(reusable, 1)
          const idle = this.#idle.findIndex((p) => p.number === pack)
          if (idle >= 0) this.#idle.splice(idle, 1)[0].handle.close().catch(() => {})
        }
      },
      unreserve: (packs) => {
        for (const pack of packs) {
          if (!this.#reserved.delete(pack)) continue
          const length = this.#lengths.get(pack)
          if (length !== undefined && length < this.limits.packTargetSize) this.#reusable.push(pack)
        }
      },
      acquirePack: async (bytes) => await this.acquirePack(bytes),
      releasePack: (pack) => { this.releasePack(pack) },
      retirePack: async (pack) => { await this.retirePack(pack) },
      commitLength: (pack, length) => { this.#lengths.set(pack, length) },
      dropped: (packs) => {
        for (const pack of packs) {
          this.#lengths.delete(pack)
          this.#reserved.delete(pack)
          this.#reads.forget(pack)
        }
      },
      quarantineIfAt: async (cid, value, reason) => await this.#quarantineIfAt(cid, value, reason),
      collectionEnded: (collection) => {
        if (this.#collection === collection) this.#collection = undefined
      }
    }
  }

  /**
   * Moves a block's index entry into quarantine, unless the entry changed since `value` was read
   * (a writer stored a good copy meanwhile). Returns whether it did.
   */
  async #quarantineIfAt (cid: CID, value: Uint8Array, reason: string): Promise<boolean> {
    return await this.#indexWrites.run(async () => {
      const current = this.#blocks.getSync(cid.bytes)
      if (current === undefined || !Buffer.from(current).equals(value)) return false
      const record = { reason, at: new Date().toISOString(), location: decodeLocation(value) }
      await this.#db.batch([
        { type: 'del', sublevel: this.#blocks, key: cid.bytes },
        { type: 'put', sublevel: this.#quarantine.sublevel, key: cid.toString(), value: record }
      ] as any, { sync: true })
      this.#quarantine.added([cid])
      return true
    })
  }

  #packPath (pack: number): string {
    return packPath(this.#dir, pack)
  }

  #assertOpen (): void {
    if (this.#closed) throw new Error(`block store ${this.#dir} is closed`)
  }

  // WriterHost: what writers ask of the store

  /**
   * A synchronous index lookup: about 3 µs on the main thread against 35 µs of CPU and a thread
   * pool round trip for an async one, and the block writer asks once per block. A lookup of a
   * new key rarely touches disk (LevelDB's bloom filters answer it).
   */
  isIndexed (cid: CID): boolean {
    const present = this.#blocks.getSync(cid.bytes) !== undefined
    // a dedup hit during a garbage collection: live from here on. The writer's own index batch
    // goes through the index queue behind any removal in flight, which puts the block back.
    if (present) this.#collection?.touch(cid)
    return present
  }

  async acquirePack (bytes: number): Promise<WritablePack> {
    const pack = await this.#acquirePack(bytes)
    this.#held.add(pack.number)
    return pack
  }

  async #acquirePack (bytes: number): Promise<WritablePack> {
    this.#assertOpen()
    const i = this.#idle.findIndex((pack) => !this.#reserved.has(pack.number) && (pack.length === 0 || pack.length + bytes <= this.limits.packTargetSize))
    if (i >= 0) return this.#idle.splice(i, 1)[0]
    for (const number of [...this.#reusable]) {
      // another writer may have taken it while this one waited for a pack that did not open
      const i = this.#reusable.indexOf(number)
      if (i < 0 || this.#reserved.has(number) || !this.#lengths.has(number) || this.#lengths.get(number)! + bytes > this.limits.packTargetSize) continue
      this.#reusable.splice(i, 1)
      const path = this.#packPath(number)
      try {
        return { number, path, handle: await this.#openFile(path, 'r+'), length: this.#lengths.get(number)! }
      } catch {
        // a pack that cannot be opened is verifyAll's to report; write elsewhere
      }
    }
    return await this.#createPack()
  }

  /**
   * A new pack is created empty and recorded with committed length 0 before anything is written
   * to it, so that on open a pack file without a record can only be an empty one (safe to delete)
   * or one this index does not describe (never deleted).
   */
  async #createPack (): Promise<WritablePack> {
    const number = this.#nextPack++
    const path = this.#packPath(number)
    let handle: PackFileHandle
    try {
      handle = await this.#openFile(path, 'wx')
    } catch (err) {
      throw new PackWriteError(path, err)
    }
    try {
      await this.#directory.sync(this.#dir)
      await this.#db.batch([{ type: 'put', sublevel: this.#packs, key: packKey(number), value: 0 }], { sync: true })
    } catch (err) {
      await handle.close()
      throw new PackWriteError(path, err)
    }
    this.#lengths.set(number, 0)
    return { number, path, handle, length: 0 }
  }

  releasePack (pack: WritablePack): void {
    this.#held.delete(pack.number)
    if (this.#closed || this.sealOnce || pack.length >= this.limits.packTargetSize) {
      pack.handle.close().catch(() => {})
    } else {
      this.#idle.push(pack)
    }
  }

  async retirePack (pack: WritablePack): Promise<void> {
    this.#held.delete(pack.number)
    // Best effort: give back the space of a failed append now; open truncates it anyway.
    try {
      await pack.handle.truncate(pack.length)
    } catch {}
    try {
      await pack.handle.close()
    } catch {}
  }

  async writeIndex (blocks: IndexedBlock[], pack: WritablePack | undefined, length: number, ops: IndexOp[], durable: boolean): Promise<number> {
    return await this.#indexWrites.run(async () => await this.#writeIndex(blocks, pack, length, ops, durable))
  }

  async #writeIndex (blocks: IndexedBlock[], pack: WritablePack | undefined, length: number, ops: IndexOp[], durable: boolean): Promise<number> {
    const batch: any[] = []
    const healed: CID[] = []
    for (const { cid, location } of blocks) {
      // a block stored during a garbage collection is live: the removal scan must not take it
      this.#collection?.touch(cid)
      batch.push({ type: 'put', sublevel: this.#blocks, key: cid.bytes, value: encodeLocation(location) })
      if (this.#quarantine.has(cid)) {
        healed.push(cid)
        batch.push({ type: 'del', sublevel: this.#quarantine.sublevel, key: cid.toString() })
      }
    }
    if (pack !== undefined) batch.push({ type: 'put', sublevel: this.#packs, key: packKey(pack.number), value: length })
    for (const op of ops) {
      const sublevel = this.#opSublevel(op.sublevel)
      batch.push(op.type === 'put'
        ? { type: 'put', sublevel, key: op.key, value: op.value }
        : { type: 'del', sublevel, key: op.key })
    }
    // a batch that heals a block is synced: the quarantine record and the new entry go together
    if (batch.length > 0) await this.#db.batch(batch, { sync: durable || healed.length > 0 })
    this.#quarantine.removed(healed)
    if (pack !== undefined) {
      pack.length = length
      this.#lengths.set(pack.number, length)
    }
    return healed.length
  }

  writerClosed (writer: PackWriter): void {
    const waiting = this.#writers.get(writer)
    this.#writers.delete(writer)
    for (const resolve of waiting ?? []) resolve()
  }

  #opSublevel (name: string): JsonSublevel {
    let sublevel = this.#opSublevels.get(name)
    if (sublevel === undefined) {
      sublevel = jsonSublevel(this.#db, name)
      this.#opSublevels.set(name, sublevel)
    }
    return sublevel
  }
}

/**
 * Why a failed read means the stored copy is damaged (its bytes are wrong, its pack is gone, or
 * the disk cannot read it), or undefined for failures that say nothing about the copy.
 */
function damageOf (err: unknown): string | undefined {
  if (err instanceof CorruptBlockError) return err.detail
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  if (code === 'EIO' || code === 'EBADMSG' || code === 'ENXIO') return `unreadable: ${code}`
  return undefined
}

export async function openBlockStore (options: BlockStoreOptions): Promise<BlockStore> {
  return await PackBlockStore.open(options)
}
