import { CID } from 'multiformats/cid'
import type { BlockStore, BlockWriter, IndexOp } from '../store/api.ts'
import type { TenantBlocks, TenantQuotas } from '../tenants/index.ts'

export interface IntakeOptions {
  /** make what arrived durable after this many bytes ... */
  flushBytes: number
  /** ... or this many ms since the last flush (checked as blocks arrive) */
  flushIntervalMs: number
}

/** The tenant's quota, when the blocks come from a peer that may not pass it (docs/retention.md). */
export type IntakeQuota = Pick<TenantQuotas, 'reserve' | 'release'>

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
 * Every block was rehashed by the wire stream on arrival, and the block writer hashes its own copy
 * again (a mismatch there is `BlockIntegrityError`): nothing reaches a pack that does not match
 * its CID. What arrived is flushed
 * (pack fsync, index batch) every `flushBytes` or `flushIntervalMs`, in the background while the
 * next blocks arrive (at most `flushBytes` more, then `put` waits for the flush), and the tenant's
 * references follow each flush. So a transfer cut off at any moment, even by kill -9, keeps
 * everything but the flush in progress and what queued behind it (under 2 × (`flushBytes` + one
 * block)), and the retry's "have?" skips what was kept.
 *
 * With a quota, each block is admitted by it before the writer takes it: a block that would take
 * the tenant past it is refused (`QuotaExceededError`) and not stored, and what arrived before
 * stays (the caller closes the intake).
 */
export class BlockIntake {
  readonly #store: BlockStore
  readonly #tenants: TenantBlocks
  readonly #tenant: string
  readonly #options: IntakeOptions
  readonly #quota: IntakeQuota | undefined
  #writer: BlockWriter | undefined
  #refs: CID[] = []
  /** bytes the quota admitted for the blocks in `#refs` */
  #reserved = 0
  #unflushed = 0
  #lastFlush = performance.now()
  #flushing: Promise<void> | undefined
  #failure: unknown
  #closed = false
  readonly stats: IntakeStats = { blocks: 0, bytes: 0, newBlocks: 0, healed: 0 }

  constructor (store: BlockStore, tenants: TenantBlocks, tenant: string, options: IntakeOptions, quota?: IntakeQuota) {
    this.#store = store
    this.#tenants = tenants
    this.#tenant = tenant
    this.#options = options
    this.#quota = quota
    // open from the start, before the first "have?" is answered: a garbage collection that
    // starts during the transfer waits for it (docs/retention.md), so blocks this Core said it
    // has are not removed before the point that needs them is committed
    this.#writer = store.writer()
  }

  /** Verifies and queues one block; returns whether the store did not hold it yet. */
  async put (cid: CID, bytes: Uint8Array): Promise<boolean> {
    this.#assertUsable()
    // before anything of the block is stored: a refused block leaves no trace
    await this.#quota?.reserve(this.#tenant, bytes.length, `block ${cid} was not stored; the blocks stored before it are kept`)
    this.#writer ??= this.#store.writer()
    let added: boolean
    try {
      added = await this.#writer.put(cid, bytes)
    } catch (err) {
      this.#quota?.release(this.#tenant, bytes.length)
      throw err
    }
    // a CID decoded from a frame keeps its digest as a view of the network chunk: keep a copy
    this.#refs.push(CID.decode(cid.bytes))
    if (this.#quota !== undefined) this.#reserved += bytes.length
    this.stats.blocks++
    this.stats.bytes += bytes.length
    if (added) this.stats.newBlocks++
    this.#unflushed += bytes.length
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
    this.#closed = true
    const writer = this.#writer ?? this.#store.writer()
    this.#writer = undefined
    try {
      for (const block of final) {
        await writer.put(block.cid, block.bytes)
      }
      // the final blocks indexed first: their references count their stored size
      const stats = await this.#tenants.commitWithRefs(this.#tenant, final.map(b => b.cid), async refs => await writer.commit([...refs, ...ops]), { after: async () => { await writer.flush() } })
      this.stats.healed = stats.healed
    } catch (err) {
      await writer.abort()
      throw err
    }
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
        // committed at once (a Core stopping under the transfer closes its writers), then the references
        this.stats.healed = (await writer.commit()).healed
        await this.#tenants.add(this.#tenant, refs)
      }
      return true
    } catch {
      await writer?.abort()
      return false
    } finally {
      this.#releaseReserved()
    }
  }

  /** Flushes what was queued so far in the background, then records the tenant's references. */
  #startFlush (): void {
    const writer = this.#writer
    if (writer === undefined) return
    const refs = this.#refs
    const reserved = this.#reserved
    this.#refs = []
    this.#reserved = 0
    this.#unflushed = 0
    this.#lastFlush = performance.now()
    this.#flushing = (async () => {
      try {
        await this.#tenants.add(this.#tenant, refs, { after: async () => { await writer.flush() } })
      } finally {
        // counted in the tenant's usage now, or not stored
        this.#quota?.release(this.#tenant, reserved)
      }
    })().catch((err: unknown) => { this.#failure = err }).finally(() => { this.#flushing = undefined })
  }

  #releaseReserved (): void {
    this.#quota?.release(this.#tenant, this.#reserved)
    this.#reserved = 0
  }

  #assertUsable (): void {
    if (this.#failure !== undefined) throw this.#failure
    if (this.#closed) throw new Error('block intake is closed')
  }
}
