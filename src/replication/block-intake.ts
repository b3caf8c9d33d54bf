import { CID } from 'multiformats/cid'
import { CorruptBlockError } from '../errors.ts'
import type { BlockStore, BlockWriter, IndexOp, StoredBlock } from '../store/api.ts'
import { BlockIntegrityError } from '../store/index.ts'
import { TenantBlocks } from '../tenants/index.ts'

export interface IntakeOptions {
  /** make what arrived durable after this many bytes ... */
  flushBytes: number
  /** ... or this many ms since the last flush (checked as blocks arrive) */
  flushIntervalMs: number
}

export interface IntakeStats {
  /** blocks received */
  blocks: number
  bytes: number
  /** of those, blocks the store did not hold yet */
  newBlocks: number
  /** of those, good copies of blocks in quarantine (damaged here) */
  healed: number
}

/**
 * Blocks arriving from a peer, on their way into the store and into the sending tenant's view.
 *
 * A raw block (version 1) was rehashed by the wire stream on arrival, and the block writer hashes
 * its own copy again; a stored block (version 2) is proved by the writer (decompressed on a
 * worker and rehashed, even when the store already holds it) and stored as it came. Either way
 * nothing reaches a pack, and no block counts as delivered by the tenant, that does not match
 * its CID; a stored body that fails its proof is `CorruptBlockError` naming the peer, and
 * nothing of the flush that held it is written. What arrived is flushed
 * (pack fsync, index batch) every `flushBytes` or `flushIntervalMs`, in the background while the
 * next blocks arrive (at most `flushBytes` more, then `put` waits for the flush), and the tenant's
 * references follow each flush. So a transfer cut off at any moment, even by kill -9, keeps
 * everything but the flush in progress and what queued behind it (under 2 × (`flushBytes` + one
 * block)), and the retry's "have?" skips what was kept.
 */
export class BlockIntake {
  readonly #store: BlockStore
  readonly #tenants: TenantBlocks
  readonly #tenant: string
  readonly #options: IntakeOptions
  /** the peer the blocks come from, named in the error for a body that fails its proof */
  readonly #from: string | undefined
  #writer: BlockWriter | undefined
  #refs: CID[] = []
  #unflushed = 0
  #lastFlush = performance.now()
  #flushing: Promise<void> | undefined
  #failure: unknown
  #closed = false
  readonly stats: IntakeStats = { blocks: 0, bytes: 0, newBlocks: 0, healed: 0 }

  constructor (store: BlockStore, tenants: TenantBlocks, tenant: string, options: IntakeOptions, from?: string) {
    this.#store = store
    this.#tenants = tenants
    this.#tenant = tenant
    this.#options = options
    this.#from = from
  }

  /**
   * Queues one block, raw (already verified) or in its stored form (proved by the writer);
   * returns whether the store did not hold it yet.
   */
  async put (cid: CID, block: Uint8Array | StoredBlock): Promise<boolean> {
    this.#assertUsable()
    this.#writer ??= this.#store.writer()
    const raw = block instanceof Uint8Array
    let added: boolean
    try {
      added = raw ? await this.#writer.put(cid, block) : await this.#writer.putStored(cid, block)
    } catch (err) {
      throw this.#named(err)
    }
    const length = raw ? block.length : block.rawLength
    // a CID decoded from a frame keeps its digest as a view of the network chunk: keep a copy
    this.#refs.push(CID.decode(cid.bytes))
    this.stats.blocks++
    this.stats.bytes += length
    if (added) this.stats.newBlocks++
    this.#unflushed += raw ? length : block.body.length
    // while a flush runs, blocks keep arriving until a flush's worth is queued behind it; then
    // this put waits for it (the receiver stops reading, the network stops the source), so
    // what is not durable yet never exceeds two flushes: what a kill -9 makes the source re-send
    if (this.#flushing !== undefined && this.#unflushed >= this.#options.flushBytes) {
      await this.#flushing
      this.#assertUsable()
    }
    if (this.#flushing === undefined && (this.#unflushed >= this.#options.flushBytes || performance.now() - this.#lastFlush >= this.#options.flushIntervalMs)) {
      this.#startFlush()
    }
    return added
  }

  /** Makes every block received so far durable and visible to the tenant. */
  async settle (): Promise<void> {
    this.#assertUsable()
    await this.#flushing
    this.#assertUsable()
    this.#startFlush()
    await this.#flushing
    this.#assertUsable()
  }

  /**
   * Stores `final` (a manifest) after every block received, with `ops` (its records) in the
   * same index batch, and closes the intake.
   */
  async commit (final: Array<{ cid: CID, bytes: Uint8Array }>, ops: IndexOp[]): Promise<void> {
    await this.settle()
    try {
      await this.#commit(final, ops)
    } catch (err) {
      throw this.#named(err)
    }
  }

  async #commit (final: Array<{ cid: CID, bytes: Uint8Array }>, ops: IndexOp[]): Promise<void> {
    this.#closed = true
    const writer = this.#writer ?? this.#store.writer()
    this.#writer = undefined
    for (const block of final) {
      await writer.put(block.cid, block.bytes)
    }
    this.stats.healed = (await writer.commit([...TenantBlocks.ops(this.#tenant, final.map(b => b.cid)), ...ops])).healed
  }

  /**
   * Ends an interrupted transfer: what arrived is flushed and kept, nothing else is committed.
   * Returns false when the store failed meanwhile (then only earlier flushes are kept).
   */
  async close (): Promise<boolean> {
    if (this.#closed) return this.#failure === undefined
    this.#closed = true
    const writer = this.#writer
    this.#writer = undefined
    try {
      await this.#flushing
      if (this.#failure !== undefined) throw this.#failure
      if (writer !== undefined) {
        const refs = this.#refs
        this.#refs = []
        this.stats.healed = (await writer.commit()).healed
        await this.#tenants.add(this.#tenant, refs)
      }
      return true
    } catch {
      await writer?.abort()
      return false
    }
  }

  /** Flushes what was queued so far in the background, then records the tenant's references. */
  #startFlush (): void {
    const writer = this.#writer
    if (writer === undefined) return
    const refs = this.#refs
    this.#refs = []
    this.#unflushed = 0
    this.#lastFlush = performance.now()
    this.#flushing = (async () => {
      await writer.flush()
      await this.#tenants.add(this.#tenant, refs)
    })().catch((err: unknown) => { this.#failure = err }).finally(() => { this.#flushing = undefined })
  }

  #assertUsable (): void {
    if (this.#failure !== undefined) throw this.#named(this.#failure)
    if (this.#closed) throw new Error('block intake is closed')
  }

  /** A stored body that failed its proof is the peer's corrupt block; other errors stay as they are. */
  #named (err: unknown): unknown {
    if (!(err instanceof BlockIntegrityError) || this.#from === undefined) return err
    return new CorruptBlockError(err.cid, `peer ${this.#from} sent it as a body that is wrong (${err.detail.replace(/^the \d+-byte stored body given for it is wrong: /, '')})`)
  }
}
