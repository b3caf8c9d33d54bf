import type { BlockWriter, IndexOp, ProvedBlock, StoredBlock, WriterStats } from './api.ts'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { assertSha256, ownBlock, ownStored, takeProved } from './block-codec.ts'
import type { EncodedBody } from './block-codec.ts'
import { encodeBackpressure } from './compression.ts'
import type { StoreLimits } from './constants.ts'
import { BlockIntegrityError, PackWriteError } from './errors.ts'
import type { BlockLocation } from './location.ts'
import { encodeRecordHeader, PACK_HEADER, PACK_HEADER_SIZE, recordHeaderLength } from './pack-format.ts'
import { writeFully } from './pack-files.ts'
import type { PackFileHandle } from './pack-files.ts'
import { STORE_SUBLEVELS } from './sublevels.ts'

/** A pack open for appending. Exactly one writer (or the store's idle pool) holds it at a time. */
export interface WritablePack {
  readonly number: number
  readonly path: string
  readonly handle: PackFileHandle
  /** committed length: everything before it is indexed and durable */
  length: number
}

export interface IndexedBlock {
  cid: CID
  location: BlockLocation
}

/** What a writer needs from its store. */
export interface WriterHost {
  readonly limits: StoreLimits
  /** packs are written once (an object store): each flush goes to a pack of its own */
  readonly sealOnce: boolean
  /** whether the block is indexed */
  isIndexed (cid: CID): boolean
  /** a pack with room for `bytes` more, for this writer alone */
  acquirePack (bytes: number): Promise<WritablePack>
  /** hands a healthy pack back for the next writer */
  releasePack (pack: WritablePack): void
  /** closes a pack whose tail may hold unindexed bytes; it is never appended to again */
  retirePack (pack: WritablePack): Promise<void>
  /**
   * One LevelDB batch: the blocks' index entries, the pack's new committed length and `ops`;
   * fsynced when `durable`. Sets `pack.length` once it is written. Returns how many of the
   * blocks were in quarantine (their good copy heals them).
   */
  writeIndex (blocks: IndexedBlock[], pack: WritablePack | undefined, length: number, ops: IndexOp[], durable: boolean): Promise<number>
  writerClosed (writer: PackWriter): void
}

interface PendingBlock {
  cid: CID
  key: string
  rawLength: number
  /** the body to write: the writer's own copy of the bytes (hashed to `cid`), or its zstd frame */
  encoded: Promise<EncodedBody>
}

/**
 * Buffers blocks (compressing each as it arrives), and flushes them as one append to its own pack,
 * an fsync, then one index batch. One flush runs in the background while the next batch fills; a
 * `put` that fills the batch waits only for the previous flush.
 *
 * The pack is always fsynced before its index batch, so nothing is ever indexed that is not
 * durable. The index batch itself is fsynced only when the caller asks (`flush`, `commit`):
 * background batches lost to a power cut only leave unindexed pack bytes, which open truncates,
 * and the next synced batch makes every earlier one durable (LevelDB has one sequential log).
 *
 * After a failed flush the writer refuses every call with that error: the failed batch was not
 * indexed, so committing anything that refers to it would be a lie.
 */
export class PackWriter implements BlockWriter {
  readonly #host: WriterHost
  #pack: WritablePack | undefined
  #queue: PendingBlock[] = []
  #queuedBytes = 0
  /** blocks queued or being flushed, by CID bytes: dedup within this writer */
  readonly #unindexed = new Map<string, PendingBlock>()
  /** proofs of stored bodies given for blocks already here or pending: the next flush waits for them */
  #proofs: Array<Promise<unknown>> = []
  #flushing: Promise<void> | undefined
  /** an index batch was written without fsync since the last synced one */
  #unsynced = false
  #failure: Error | undefined
  #closed = false
  readonly #stats: WriterStats = { blocks: 0, newBytes: 0, storedBytes: 0, healed: 0 }

  constructor (host: WriterHost) {
    this.#host = host
  }

  get stats (): WriterStats {
    return { ...this.#stats }
  }

  async add (codec: number, bytes: Uint8Array): Promise<{ cid: CID, added: boolean }> {
    this.#assertUsable()
    // copies `bytes` before it returns: from here on the caller's buffer is never read again
    const owned = ownBlock(bytes)
    const cid = CID.createV1(codec, Digest.create(sha256.code, owned.digest))
    const key = cidKey(cid)
    if (this.#unindexed.has(key) || this.#host.isIndexed(cid)) {
      owned.release()
      return { cid, added: false }
    }
    await this.#enqueue(cid, key, owned.length, owned.commit())
    return { cid, added: true }
  }

  async put (cid: CID, bytes: Uint8Array): Promise<boolean> {
    this.#assertUsable()
    assertSha256(cid)
    // a v1 CID owns its bytes (multiformats re-encodes them); a v0 CID's bytes may be a view of
    // the caller's buffer, and the writer keeps the CID until its flush
    if (cid.version !== 1) throw new RangeError(`block ${cid} is a CIDv${cid.version}; the store holds CIDv1 blocks only`)
    const key = cidKey(cid)
    if (this.#unindexed.has(key) || this.#host.isIndexed(cid)) return false
    const owned = ownBlock(bytes)
    if (!owned.digest.equals(cid.multihash.digest)) {
      owned.release()
      // nothing this writer holds may be committed now: the caller's data is not what it says
      this.#failure ??= new BlockIntegrityError(cid.toString(), bytes.length)
      throw this.#failure
    }
    await this.#enqueue(cid, key, owned.length, owned.commit())
    return true
  }

  async putStored (cid: CID, stored: StoredBlock): Promise<boolean> {
    this.#assertUsable()
    assertSha256(cid)
    if (cid.version !== 1) throw new RangeError(`block ${cid} is a CIDv${cid.version}; the store holds CIDv1 blocks only`)
    const key = cidKey(cid)
    // copies the body before it returns, then proves the copy on a worker
    const proof = ownStored(cid, stored)
    // nothing this writer holds may be committed once a body failed its proof
    proof.catch((err: Error) => { this.#failure ??= err })
    if (this.#unindexed.has(key) || this.#host.isIndexed(cid)) {
      // proved all the same: the caller (a tenant's intake) counts it as delivered. The copy is
      // not written, so it is released once proved (its batch buffer is freed with the last body)
      const proved = proof.then((body) => { body.release?.() })
      proved.catch(() => {}) // awaited by the flush; a rejection surfaces there
      this.#proofs.push(proved)
      return false
    }
    await this.#enqueue(cid, key, stored.rawLength, proof)
    return true
  }

  async putProved (proved: ProvedBlock): Promise<boolean> {
    this.#assertUsable()
    const { cid } = proved
    assertSha256(cid)
    if (cid.version !== 1) throw new RangeError(`block ${cid} is a CIDv${cid.version}; the store holds CIDv1 blocks only`)
    // the copy proveStored made and proved: stored as it is, not copied or proved again
    const copy = takeProved(proved)
    const key = cidKey(cid)
    if (this.#unindexed.has(key) || this.#host.isIndexed(cid)) {
      copy.release?.()
      return false
    }
    await this.#enqueue(cid, key, proved.rawLength, Promise.resolve(copy))
    return true
  }

  async #enqueue (cid: CID, key: string, rawLength: number, encoded: Promise<EncodedBody>): Promise<void> {
    encoded.catch(() => {}) // awaited by the flush; a rejection surfaces there
    const block = { cid, key, rawLength, encoded }
    this.#queue.push(block)
    this.#unindexed.set(key, block)
    this.#queuedBytes += rawLength
    const { flushBytes, flushBlocks } = this.#host.limits
    if (this.#queuedBytes >= flushBytes || this.#queue.length >= flushBlocks) await this.#startFlush([], false)
    const behind = encodeBackpressure()
    if (behind !== undefined) await behind
  }

  async flush (): Promise<void> {
    this.#assertUsable()
    await this.#startFlush([], true)
    await this.#settle()
  }

  async commit (ops: IndexOp[] = []): Promise<WriterStats> {
    this.#assertUsable()
    for (const op of ops) {
      if (STORE_SUBLEVELS.has(op.sublevel)) throw new Error(`an index op may not write the block store's own sublevel "${op.sublevel}"`)
    }
    this.#closed = true // a put racing the commit would be dropped: refuse it instead
    try {
      await this.#startFlush(ops, true)
      await this.#settle()
    } finally {
      this.#close()
    }
    return this.stats
  }

  async abort (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const block of this.#queue) block.encoded.then(body => body.release?.(), () => {})
    this.#queue = []
    this.#proofs = []
    this.#queuedBytes = 0
    this.#unindexed.clear()
    while (this.#flushing !== undefined) await this.#flushing
    this.#close()
  }

  /** Waits for the flush in progress, then starts flushing the queue (with `ops`) in the background. */
  async #startFlush (ops: IndexOp[], durable: boolean): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing
    if (this.#failure !== undefined) throw this.#failure
    if (this.#queue.length === 0 && this.#proofs.length === 0 && ops.length === 0 && !(durable && this.#unsynced)) return
    const batch = this.#queue
    const proofs = this.#proofs
    this.#queue = []
    this.#proofs = []
    this.#queuedBytes = 0
    this.#flushing = this.#flushBatch(batch, proofs, ops, durable).then(
      () => { this.#flushing = undefined },
      (err: Error) => {
        this.#failure = err
        this.#flushing = undefined
      })
  }

  async #settle (): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing
    if (this.#failure !== undefined) throw this.#failure
  }

  async #flushBatch (blocks: PendingBlock[], proofs: Array<Promise<unknown>>, ops: IndexOp[], durable: boolean): Promise<void> {
    await Promise.all(proofs)
    const bodies = await Promise.all(blocks.map(async (b) => await b.encoded))
    // with no blocks, rewriting the pack's committed length gives a sync batch something to carry
    let pack = this.#pack
    let length = pack?.length ?? 0
    let recordBytes = 0
    const indexed: IndexedBlock[] = []
    if (blocks.length > 0) {
      let headerBytes = 0
      for (let i = 0; i < blocks.length; i++) {
        const header = recordHeaderLength(blocks[i].cid.bytes.length)
        headerBytes += header
        recordBytes += header + bodies[i].body.length
      }
      pack = await this.#packFor(recordBytes)
      const buffers: Uint8Array[] = []
      let position = pack.length
      if (position === 0) {
        buffers.push(PACK_HEADER)
        position = PACK_HEADER_SIZE
      }
      const headers = new Uint8Array(headerBytes)
      let h = 0
      for (let i = 0; i < blocks.length; i++) {
        const { cid, rawLength } = blocks[i]
        const { flags, body } = bodies[i]
        const headerEnd = encodeRecordHeader(headers, h, flags, cid.bytes, body.length)
        buffers.push(headers.subarray(h, headerEnd), body)
        position += headerEnd - h
        indexed.push({ cid, location: { flags, pack: pack.number, offset: position, storedLength: body.length, rawLength } })
        position += body.length
        h = headerEnd
      }
      length = position
      await this.#append(pack, buffers, length)
    }
    try {
      this.#stats.healed += await this.#host.writeIndex(indexed, pack, length, ops, durable)
      this.#unsynced = !durable
    } catch (err) {
      if (pack !== undefined) await this.#dropPack(pack)
      throw err
    }
    for (let i = 0; i < blocks.length; i++) {
      bodies[i].release?.()
      this.#unindexed.delete(blocks[i].key)
      this.#stats.blocks++
      this.#stats.newBytes += blocks[i].rawLength
    }
    this.#stats.storedBytes += recordBytes
  }

  /**
   * Vectored writes at the committed length until every byte is written, then fsync. Nothing is
   * indexed if either fails. A write that fills the disk returns short; the next one reports
   * why (ENOSPC), which is what the operator must read.
   */
  async #append (pack: WritablePack, buffers: Uint8Array[], length: number): Promise<void> {
    try {
      await writeFully(pack.handle, buffers, pack.length, length)
      await pack.handle.datasync()
    } catch (err) {
      await this.#dropPack(pack)
      throw new PackWriteError(pack.path, err)
    }
  }

  async #packFor (recordBytes: number): Promise<WritablePack> {
    const pack = this.#pack
    if (pack !== undefined && pack.length > PACK_HEADER_SIZE && (this.#host.sealOnce || pack.length + recordBytes > this.#host.limits.packTargetSize)) {
      this.#pack = undefined
      this.#host.releasePack(pack)
    }
    this.#pack ??= await this.#host.acquirePack(recordBytes)
    return this.#pack
  }

  async #dropPack (pack: WritablePack): Promise<void> {
    if (this.#pack === pack) this.#pack = undefined
    await this.#host.retirePack(pack)
  }

  #close (): void {
    this.#closed = true
    if (this.#pack !== undefined) this.#host.releasePack(this.#pack)
    this.#pack = undefined
    this.#host.writerClosed(this)
  }

  #assertUsable (): void {
    if (this.#failure !== undefined) throw this.#failure
    if (this.#closed) throw new Error('block writer is closed (committed or aborted)')
  }
}

/** A Map key for a CID: its bytes as a binary string. */
function cidKey (cid: CID): string {
  return Buffer.from(cid.bytes.buffer, cid.bytes.byteOffset, cid.bytes.byteLength).toString('latin1')
}
