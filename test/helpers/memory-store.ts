import { CID } from 'multiformats/cid'
import { BlockIntegrityError } from '../../src/store/errors.ts'
import { create as createDigest } from 'multiformats/hashes/digest'
import { CorruptBlockError, MissingBlockError } from '../../src/errors.ts'
import { sha256 } from '../../src/points/blocks.ts'
import { zstdDecompressSync } from 'node:zlib'
import { assertSha256, storedShapeProblem, takeProved } from '../../src/store/block-codec.ts'
import { FLAG_ZSTD } from '../../src/store/pack-format.ts'
import { jsonSublevel } from '../../src/store/sublevels.ts'
import type { RootDb } from '../../src/store/sublevels.ts'
import type { BlockStore, BlockWriter, Collection, DamagedBlock, IndexOp, ProvedBlock, StoredBlock, StoredRead, StoreStats, VerifyResult, WriterStats } from '../../src/store/api.ts'

/**
 * An in-memory `BlockStore` for unit tests: same contract as the real store (verify on get,
 * dedup in writers, ops committed after blocks, copies in and out), no compression, no files.
 * `db`, when given, receives the writers' index ops through `jsonSublevel` as the real store
 * does. test/store/contract.ts holds both stores to the same contract.
 */
export class MemoryBlockStore implements BlockStore {
  readonly blocks = new Map<string, Uint8Array>()
  /** quarantined blocks: CID string -> why */
  readonly quarantined = new Map<string, { reason: string, at: string, bytes: Uint8Array }>()
  /** every `get`, in order (CID strings): lets tests prove what was read */
  readonly reads: string[] = []
  readonly #db: RootDb | undefined

  constructor (db?: RootDb) {
    this.#db = db
  }

  async has (cid: CID): Promise<boolean> {
    return this.blocks.has(cid.toString())
  }

  async hasMany (cids: CID[]): Promise<boolean[]> {
    return cids.map(cid => this.blocks.has(cid.toString()))
  }

  async get (cid: CID): Promise<Uint8Array> {
    this.reads.push(cid.toString())
    const bytes = this.blocks.get(cid.toString())
    const damaged = this.quarantined.get(cid.toString())
    if (damaged !== undefined) throw new CorruptBlockError(cid.toString(), `its stored copy was found damaged (${damaged.reason})`)
    if (bytes === undefined) throw new MissingBlockError(cid.toString())
    if (!Buffer.from(sha256(bytes)).equals(cid.multihash.digest)) {
      // as the pack store does: a read that finds a block damaged quarantines it
      await this.quarantine([{ cid, reason: 'its bytes do not match its hash' }])
      throw new CorruptBlockError(cid.toString())
    }
    return bytes.slice() // the caller owns what it gets, as from the pack store
  }

  /** Blocks are kept uncompressed here: the stored form is the block itself (flags 0). */
  async getStored (cid: CID): Promise<StoredBlock> {
    const bytes = await this.get(cid)
    return { flags: 0, body: bytes, rawLength: bytes.length }
  }

  /** a memory store has no order of its own: in the store's order, the list's, the blocks not here last */
  async * getStoredMany (cids: CID[], options: { order?: 'given' | 'store' } = {}): AsyncGenerator<StoredRead> {
    const order = options.order === 'store' ? [...cids.filter(c => this.blocks.has(c.toString())), ...cids.filter(c => !this.blocks.has(c.toString()))] : cids
    for (const cid of order) {
      try {
        yield { cid, stored: await this.getStored(cid) }
      } catch (err) {
        if (err instanceof MissingBlockError || err instanceof CorruptBlockError) yield { cid, error: err }
        else throw err
      }
    }
  }

  async size (cid: CID): Promise<number | undefined> {
    return this.blocks.get(cid.toString())?.length
  }

  /** no compression here: a block takes its size */
  async storedSize (cid: CID): Promise<number | undefined> {
    return this.blocks.get(cid.toString())?.length
  }

  writer (): BlockWriter {
    return new MemoryWriter(this, this.#db)
  }

  async * entries (): AsyncIterable<{ cid: CID, size: number, storedSize: number }> {
    for (const [key, bytes] of [...this.blocks].sort(([a], [b]) => a < b ? -1 : 1)) {
      yield { cid: CID.parse(key), size: bytes.length, storedSize: bytes.length }
    }
  }

  async stats (): Promise<StoreStats> {
    let rawBytes = 0
    for (const bytes of this.blocks.values()) rawBytes += bytes.length
    return { blocks: this.blocks.size, rawBytes, storedBytes: rawBytes, packs: 0, packBytes: 0 }
  }

  async * verifyAll (): AsyncIterable<VerifyResult> {
    for (const [key, bytes] of this.blocks) {
      const ok = Buffer.from(sha256(bytes)).equals(CID.parse(key).multihash.digest)
      yield ok ? { cid: CID.parse(key), ok } : { cid: CID.parse(key), ok, error: 'its bytes do not match its hash' }
    }
  }

  async quarantine (blocks: Array<{ cid: CID, reason: string }>): Promise<CID[]> {
    const out: CID[] = []
    for (const { cid, reason } of blocks) {
      const bytes = this.blocks.get(cid.toString())
      if (bytes === undefined || Buffer.from(sha256(bytes)).equals(cid.multihash.digest)) continue
      this.blocks.delete(cid.toString())
      this.quarantined.set(cid.toString(), { reason, at: new Date().toISOString(), bytes })
      out.push(cid)
    }
    return out
  }

  async * damaged (): AsyncIterable<DamagedBlock> {
    for (const [key, { reason, at, bytes }] of this.quarantined) {
      yield { cid: CID.parse(key), reason, at, location: { flags: 0, pack: 0, offset: 0, storedLength: bytes.length, rawLength: bytes.length } }
    }
  }

  async reinstate (): Promise<CID[]> {
    return []
  }

  /** No packs, no second copies. */
  async salvage (): Promise<CID[]> {
    return []
  }

  async collect (): Promise<Collection> {
    throw new Error('the memory store does not collect garbage: prune is tested on the pack store')
  }

  /** Test helper: overwrites a block's bytes (they will no longer match the CID). */
  corrupt (cid: CID): void {
    const bytes = this.blocks.get(cid.toString())
    if (bytes === undefined) throw new Error(`no block ${cid}`)
    const copy = bytes.length === 0 ? new Uint8Array([0]) : bytes.slice()
    copy[0] ^= 0xff
    this.blocks.set(cid.toString(), copy)
  }

  delete (cid: CID): void {
    this.blocks.delete(cid.toString())
  }

  async close (): Promise<void> {}
}

class MemoryWriter implements BlockWriter {
  readonly stats: WriterStats = { blocks: 0, newBytes: 0, storedBytes: 0, healed: 0 }
  readonly #store: MemoryBlockStore
  readonly #db: RootDb | undefined
  readonly #pending = new Map<string, Uint8Array>()
  #closed = false
  /** as the pack store's writer: after bytes that failed their check, every call throws it */
  #failure: Error | undefined

  constructor (store: MemoryBlockStore, db: RootDb | undefined) {
    this.#store = store
    this.#db = db
  }

  async add (codec: number, bytes: Uint8Array): Promise<{ cid: CID, added: boolean }> {
    const copy = bytes.slice()
    const cid = CID.createV1(codec, createDigest(0x12, sha256(copy)))
    return { cid, added: await this.put(cid, copy) }
  }

  #assertUsable (): void {
    if (this.#failure !== undefined) throw this.#failure
    if (this.#closed) throw new Error('writer is closed')
  }

  async put (cid: CID, bytes: Uint8Array): Promise<boolean> {
    this.#assertUsable()
    assertSha256(cid)
    const key = cid.toString()
    if (this.#store.blocks.has(key) || this.#pending.has(key)) return false
    const copy = bytes.slice()
    // as the pack store does: bytes that do not match their CID are refused, and nothing after
    if (!Buffer.from(sha256(copy)).equals(cid.multihash.digest)) {
      this.#failure = new BlockIntegrityError(key, copy.length)
      throw this.#failure
    }
    this.#pending.set(key, copy)
    if (this.#store.quarantined.delete(key)) this.stats.healed++
    this.stats.blocks++
    this.stats.newBytes += bytes.length
    this.stats.storedBytes += bytes.length
    return true
  }

  /** Proves the body at once (the pack store does it on a worker), then keeps the block itself. */
  async putStored (cid: CID, stored: StoredBlock): Promise<boolean> {
    this.#assertUsable()
    assertSha256(cid)
    const refuse = (detail: string): never => {
      this.#failure = new BlockIntegrityError(cid.toString(), stored.body.length, `the ${stored.body.length}-byte stored body given for it is wrong: ${detail}`)
      throw this.#failure
    }
    const problem = storedShapeProblem(stored)
    if (problem !== undefined) refuse(problem)
    let bytes: Uint8Array = stored.body.slice()
    if ((stored.flags & FLAG_ZSTD) !== 0) {
      try {
        bytes = zstdDecompressSync(bytes, { maxOutputLength: Math.max(stored.rawLength, 1) })
      } catch (err) {
        refuse(`its zstd body does not decompress to at most ${stored.rawLength} bytes (${(err as Error).message})`)
      }
    }
    if (bytes.length !== stored.rawLength) refuse(`it holds ${bytes.length} bytes where ${stored.rawLength} were stated`)
    if (!Buffer.from(sha256(bytes)).equals(cid.multihash.digest)) refuse('its bytes do not match its hash')
    return await this.put(cid, bytes)
  }

  /** Stores the copy proveStored proved (decompressed here: this store keeps blocks as they are). */
  async putProved (proved: ProvedBlock): Promise<boolean> {
    this.#assertUsable()
    const copy = takeProved(proved)
    const bytes = (copy.flags & FLAG_ZSTD) !== 0 ? zstdDecompressSync(copy.body, { maxOutputLength: Math.max(proved.rawLength, 1) }) : copy.body.slice()
    copy.release?.()
    return await this.put(proved.cid, bytes)
  }

  async flush (): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure
    for (const [key, bytes] of this.#pending) this.#store.blocks.set(key, bytes)
    this.#pending.clear()
  }

  async commit (ops: IndexOp[] = []): Promise<WriterStats> {
    this.#assertUsable()
    await this.flush()
    if (ops.length > 0) {
      if (this.#db === undefined) throw new Error('MemoryBlockStore was created without a db: cannot commit index ops')
      const db = this.#db
      await db.batch(ops.map(op => op.type === 'put'
        ? { type: 'put', sublevel: jsonSublevel(db, op.sublevel), key: op.key, value: op.value }
        : { type: 'del', sublevel: jsonSublevel(db, op.sublevel), key: op.key }) as any)
    }
    this.#closed = true
    return { ...this.stats }
  }

  async abort (): Promise<void> {
    this.#pending.clear()
    this.#closed = true
  }
}
