import type { CID } from 'multiformats/cid'
import { MalformedError } from '../errors.ts'
import type { WireStream } from '../net/index.ts'
import { diffClosure } from '../points/closure.ts'
import type { SignedPoint } from '../points/api.ts'
import type { BlockStore } from '../store/api.ts'
import { readableBlocks, readableStored } from './readable-blocks.ts'
import type { TokenBucket } from './token-bucket.ts'
import type { EngineMetrics } from './api.ts'
import { countSent } from './sessions.ts'
import { bitmapIndexes, storedBlockFrameLength } from '../protocol/index.ts'
import type { Message, MessageOf, MessageType, PointSummary } from '../protocol/index.ts'

export interface SessionOptions {
  store: BlockStore
  metrics: EngineMetrics
  /** CIDs per `have` */
  batchSize: number
  /** `have`s in flight */
  pipeline: number
  /** deadline of the `ack` in ms */
  ackTimeout: number
  /** `--limit`: every byte sent waits for it */
  limiter?: TokenBucket
  signal?: AbortSignal
  /** after every block frame, and when a point's bytes to send are known */
  onSent?: (sent: { blocks: number, bytes: number, bytesToSend?: number }) => void
}

/** How an offered point ended. */
export type OfferOutcome =
  | { kind: 'present' }
  | { kind: 'declined', reason: string }
  /**
   * `unreadable`: blocks of the point this Core could not send because its own copy is damaged or
   * gone (the point lost data here too; the target's `ack` then reports it incomplete)
   */
  | { kind: 'acked', complete: boolean, missing: number, unreadable: number }

/**
 * The source's side of one `/drcore/replicate/1` session (docs/protocol.md): status questions,
 * then offers, each followed by pipelined "have?" batches over the point's delta, the missing
 * blocks, `done` and the target's `ack`.
 */
export class ReplicationSession {
  readonly wire: WireStream
  readonly #options: SessionOptions

  constructor (wire: WireStream, options: SessionOptions) {
    this.wire = wire
    this.#options = options
  }

  /** The target's points of each machine in this Core's tenant: all questions go out at once. */
  async status (machines: string[]): Promise<PointSummary[][]> {
    for (const machine of machines) await this.#send({ type: 'status', machine })
    const out: PointSummary[][] = []
    for (const machine of machines) {
      const reply = await this.#expect('status-reply')
      if (reply.machine !== machine) throw new MalformedError(`peer ${this.wire.peer} answered the status of ${reply.machine} where ${machine} was asked`)
      out.push(reply.points)
    }
    return out
  }

  /**
   * Offers a point and sends what the target lacks of its delta against `base` (a point the
   * target holds whole; null: the full closure). When the target still finds the point
   * incomplete and `repair` is set, the full closure is offered once more: the target's copy of
   * `base` was not what the cursor claimed (it lost blocks since). Blocks this Core cannot read
   * (damaged or gone here too) are left out and counted, so one damaged point does not stop
   * the job; the full closure is then not offered again, since it could not complete it.
   */
  async offer (point: SignedPoint, options: { base: SignedPoint | null, seed: boolean, repair: boolean }): Promise<OfferOutcome> {
    const reply = await this.#request({ type: 'offer', point: point.id, manifest: point.bytes, seed: options.seed }, 'offer-reply')
    if (reply.known && reply.complete) return { kind: 'present' }
    if (!reply.accepted) return { kind: 'declined', reason: reply.reason ?? 'declined without a reason' }
    // a point the target holds as an orphan is repaired from its full closure
    const base = reply.known && !options.seed ? null : options.base
    const unreadable = { count: 0 }
    let ack = await this.#transfer(point, base, unreadable)
    if (!ack.complete && options.repair && base !== null && unreadable.count === 0) {
      const again = await this.#request({ type: 'offer', point: point.id, manifest: point.bytes, seed: false }, 'offer-reply')
      if (again.known && again.complete) return { kind: 'present' }
      if (!again.accepted) return { kind: 'declined', reason: again.reason ?? 'declined without a reason' }
      ack = await this.#transfer(point, null, unreadable)
    }
    return { kind: 'acked', complete: ack.complete, missing: ack.missing, unreadable: unreadable.count }
  }

  /** Deletes the machine's points in this Core's tenant on the target; returns how many. */
  async removeMachine (machine: string): Promise<number> {
    const reply = await this.#request({ type: 'remove-machine', machine }, 'remove-reply')
    return reply.removed
  }

  async #transfer (point: SignedPoint, base: SignedPoint | null, unreadable: { count: number }): Promise<MessageOf<'ack'>> {
    const { batchSize, pipeline } = this.#options
    // a node this Core cannot read hides its subtree: neither is offered
    const candidates = diffClosure(this.#options.store, point, base, { onAbsent: () => { unreadable.count++ } })
    let exhausted = false
    let bytesToSend = 0
    const nextBatch = async (): Promise<CID[]> => {
      const batch: CID[] = []
      while (batch.length < batchSize) {
        const next = await candidates.next()
        if (next.done === true) {
          exhausted = true
          break
        }
        // the manifest travelled in the offer
        if (!next.value.equals(point.id)) batch.push(next.value)
      }
      return batch
    }
    const asked: CID[][] = []
    const ask = async (): Promise<void> => {
      // eslint-disable-next-line no-unmodified-loop-condition -- nextBatch sets it
      while (!exhausted && asked.length < pipeline) {
        const batch = await nextBatch()
        if (batch.length === 0) continue
        await this.#send({ type: 'have', cids: batch })
        asked.push(batch)
      }
    }
    await ask()
    while (asked.length > 0) {
      const reply = await this.#expect('have-reply')
      const batch = asked.shift()!
      if (reply.count !== batch.length) throw new MalformedError(`peer ${this.wire.peer} answered "have?" for ${reply.count} blocks where ${batch.length} were asked`)
      const missing = bitmapIndexes(reply.missing).map(i => batch[i])
      for (const cid of missing) bytesToSend += await this.#options.store.size(cid) ?? 0
      // the next question goes out before these blocks, so the answer is ready when they are sent
      await ask()
      if (exhausted && asked.length === 0) this.#options.onSent?.({ blocks: 0, bytes: 0, bytesToSend })
      unreadable.count += await this.#sendBlocks(missing)
    }
    return await this.#request({ type: 'done' }, 'ack', { signal: this.#ackSignal() })
  }

  /**
   * Sends the blocks, as stored (version 2) or raw (version 1); returns how many could not be
   * read here (damaged or gone), which are left out. `--limit` counts the bytes of each frame.
   */
  async #sendBlocks (cids: CID[]): Promise<number> {
    if (this.wire.storedBlocks) return await this.#sendStored(cids)
    const { store, limiter, metrics, signal } = this.#options
    let unreadable = 0
    for await (const { cid, bytes } of readableBlocks(store, cids)) {
      signal?.throwIfAborted()
      if (bytes === undefined) {
        unreadable++
        continue
      }
      await limiter?.take(bytes.length + cid.bytes.length + 4, signal)
      await this.wire.sendBlock(cid, bytes)
      metrics.blocksSent++
      metrics.bytesSent += bytes.length
      this.#options.onSent?.({ blocks: 1, bytes: bytes.length })
    }
    return unreadable
  }

  async #sendStored (cids: CID[]): Promise<number> {
    const { store, limiter, metrics, signal } = this.#options
    let unreadable = 0
    for await (const { cid, stored } of readableStored(store, cids)) {
      signal?.throwIfAborted()
      if (stored === undefined) {
        unreadable++
        continue
      }
      await limiter?.take(storedBlockFrameLength(cid, stored), signal)
      await this.wire.sendStored(cid, stored)
      metrics.blocksSent++
      metrics.bytesSent += stored.rawLength
      this.#options.onSent?.({ blocks: 1, bytes: stored.rawLength })
    }
    return unreadable
  }

  #ackSignal (): AbortSignal {
    const timeout = AbortSignal.timeout(this.#options.ackTimeout)
    return this.#options.signal === undefined ? timeout : AbortSignal.any([timeout, this.#options.signal])
  }

  async #send (message: Message): Promise<void> {
    this.#options.signal?.throwIfAborted()
    const { metrics, limiter } = this.#options
    countSent(metrics, message.type)
    if (message.type === 'have') await limiter?.take(message.cids.length * 40, this.#options.signal)
    await this.wire.send(message)
  }

  async #expect<T extends MessageType> (type: T, options: { signal?: AbortSignal } = {}): Promise<MessageOf<T>> {
    return await this.wire.expect(type, options)
  }

  async #request<T extends MessageType> (message: Message, reply: T, options: { signal?: AbortSignal } = {}): Promise<MessageOf<T>> {
    await this.#send(message)
    return await this.#expect(reply, options)
  }
}
