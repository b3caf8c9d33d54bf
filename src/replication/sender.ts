import type { CID } from 'multiformats/cid'
import { MalformedError } from '../errors.ts'
import { errorFromWire } from '../net/index.ts'
import type { WireStream } from '../net/index.ts'
import { diffClosure } from '../points/closure.ts'
import type { SignedPoint } from '../points/api.ts'
import type { BlockStore } from '../store/api.ts'
import { readableBlocks, storedInStoreOrder } from './readable-blocks.ts'
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
  /**
   * `--streams`: how many streams carry a point's blocks (default 1). The others are opened by
   * `openShare` (same protocol, same connection) once a point's delta is longer than a share.
   */
  streams?: number
  /** opens one more replicate stream to the target, on the protocol this session speaks */
  openShare?: () => Promise<WireStream>
}

/**
 * CIDs per "have?" when a point's blocks go over several streams: each stream takes the next
 * share of the delta when it is ready for one, so small shares keep the streams evenly busy (256
 * blocks of 64 KiB are 16 MiB; the question is 10 KiB).
 */
export const SHARE_BATCH = 256

/** One walk of a point's delta, shared by the streams that send it. */
interface Delta {
  /** the next batch of CIDs to ask "have?" for; empty once the walk is done */
  next: () => Promise<CID[]>
  exhausted: boolean
  /** streams taking or sending a batch just now (the total to send is known when none is) */
  asking: number
  bytesToSend: number
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
    let ack = await this.#transfer(point, base, unreadable, options.seed)
    if (!ack.complete && options.repair && base !== null && unreadable.count === 0) {
      const again = await this.#request({ type: 'offer', point: point.id, manifest: point.bytes, seed: false }, 'offer-reply')
      if (again.known && again.complete) return { kind: 'present' }
      if (!again.accepted) return { kind: 'declined', reason: again.reason ?? 'declined without a reason' }
      ack = await this.#transfer(point, null, unreadable, false)
    }
    return { kind: 'acked', complete: ack.complete, missing: ack.missing, unreadable: unreadable.count }
  }

  /** Deletes the machine's points in this Core's tenant on the target; returns how many. */
  async removeMachine (machine: string): Promise<number> {
    const reply = await this.#request({ type: 'remove-machine', machine }, 'remove-reply')
    return reply.removed
  }

  /**
   * Sends what the target lacks of the point's delta, then `done`. With `streams` > 1 the delta
   * is shared out: each stream (this one and up to streams - 1 more, each with its own offer of
   * the point) takes the next batch of CIDs from one walk of the delta, asks "have?" for it and
   * sends what is missing; the extra streams then close, and once the target has closed them
   * too (it made their blocks durable first), this stream sends `done` (docs/protocol.md,
   * "Parallel streams").
   */
  async #transfer (point: SignedPoint, base: SignedPoint | null, unreadable: { count: number }, seed: boolean): Promise<MessageOf<'ack'>> {
    const streams = this.#options.openShare === undefined ? 1 : Math.max(1, this.#options.streams ?? 1)
    // a node this Core cannot read hides its subtree: neither is offered
    const candidates = diffClosure(this.#options.store, point, base, { onAbsent: () => { unreadable.count++ } })
    const batchSize = streams > 1 ? Math.min(this.#options.batchSize, SHARE_BATCH) : this.#options.batchSize
    const delta: Delta = { exhausted: false, bytesToSend: 0, asking: 0, next: async () => [] }
    delta.next = async () => {
      const batch: CID[] = []
      while (batch.length < batchSize && !delta.exhausted) {
        const next = await candidates.next()
        if (next.done === true) {
          delta.exhausted = true
          break
        }
        // the manifest travelled in the offer
        if (!next.value.equals(point.id)) batch.push(next.value)
      }
      return batch
    }
    if (streams === 1) {
      await this.#share(this.wire, delta, unreadable)
      return await this.#request({ type: 'done' }, 'ack', { signal: this.#ackSignal() })
    }
    const shares: WireStream[] = []
    const running: Array<Promise<void>> = []
    const first = await delta.next()
    try {
      // extra streams only when the delta is longer than one share
      if (!delta.exhausted) {
        for (let i = 1; i < streams; i++) running.push(this.#extraShare(point, seed, delta, unreadable, shares))
      }
      await Promise.all([this.#share(this.wire, delta, unreadable, first), ...running])
    } catch (err) {
      for (const wire of shares) wire.abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
    return await this.#request({ type: 'done' }, 'ack', { signal: this.#ackSignal() })
  }

  /**
   * One extra stream's part of a point: its own offer, "have?" and blocks for the batches it
   * takes, then a clean close; resolves once the target closed the stream too, i.e. after it
   * made every block of the share durable. A target that does not accept the offer here (it
   * cannot differ from the first stream's answer, but a retention run may have come between)
   * leaves the share to the other streams; so does one that refuses the stream itself (a Core
   * from before `--streams` serves at most 8 replicate streams per connection): until its offer
   * is answered, a stream has taken nothing of the delta.
   */
  async #extraShare (point: SignedPoint, seed: boolean, delta: Delta, unreadable: { count: number }, shares: WireStream[]): Promise<void> {
    let wire: WireStream | undefined
    let accepted: boolean
    try {
      wire = await this.#options.openShare!()
      shares.push(wire)
      accepted = (await this.#request({ type: 'offer', point: point.id, manifest: point.bytes, seed }, 'offer-reply', {}, wire)).accepted
    } catch (err) {
      this.#options.signal?.throwIfAborted()
      wire?.abort(err instanceof Error ? err : new Error(String(err)))
      if (wire !== undefined) this.#options.metrics.frameBytesSent += wire.bytesWritten
      return
    }
    try {
      if (accepted) await this.#share(wire, delta, unreadable)
      await wire.close()
      const end = await wire.receive({ signal: this.#ackSignal() })
      if (end?.type === 'error') throw errorFromWire(wire.peer, end.code, end.message)
      if (end !== undefined) throw new MalformedError(`peer ${wire.peer} sent ${end.type} after the share of point ${point.id} was sent, where it closes the stream`)
    } finally {
      this.#options.metrics.frameBytesSent += wire.bytesWritten
    }
  }

  /**
   * The "have?" pipeline of one stream: takes batches of the delta while it has fewer than
   * `pipeline` questions out, and sends the blocks of each answer after asking the next one.
   */
  async #share (wire: WireStream, delta: Delta, unreadable: { count: number }, first?: CID[]): Promise<void> {
    const { pipeline } = this.#options
    const asked: CID[][] = []
    let taken = first
    const ask = async (): Promise<void> => {
      while (!delta.exhausted || taken !== undefined) {
        if (asked.length >= pipeline) return
        delta.asking++
        try {
          const batch = taken ?? await delta.next()
          taken = undefined
          if (batch.length === 0) continue
          await this.#send({ type: 'have', cids: batch }, wire)
          asked.push(batch)
        } finally {
          delta.asking--
        }
      }
    }
    await ask()
    while (asked.length > 0) {
      const reply = await wire.expect('have-reply')
      const batch = asked.shift()!
      if (reply.count !== batch.length) throw new MalformedError(`peer ${wire.peer} answered "have?" for ${reply.count} blocks where ${batch.length} were asked`)
      const missing = bitmapIndexes(reply.missing).map(i => batch[i])
      for (const cid of missing) delta.bytesToSend += await this.#options.store.size(cid) ?? 0
      // the next question goes out before these blocks, so the answer is ready when they are sent
      await ask()
      if (delta.exhausted && delta.asking === 0 && asked.length === 0) this.#options.onSent?.({ blocks: 0, bytes: 0, bytesToSend: delta.bytesToSend })
      unreadable.count += await this.#sendBlocks(wire, missing)
    }
  }

  /**
   * Sends the blocks, as stored (version 2) or raw (version 1); returns how many could not be
   * read here (damaged or gone), which are left out. `--limit` counts the bytes of each frame.
   */
  async #sendBlocks (wire: WireStream, cids: CID[]): Promise<number> {
    if (wire.storedBlocks) return await this.#sendStored(wire, cids)
    const { store, limiter, metrics, signal } = this.#options
    let unreadable = 0
    for await (const { cid, bytes } of readableBlocks(store, cids)) {
      signal?.throwIfAborted()
      if (bytes === undefined) {
        unreadable++
        continue
      }
      await limiter?.take(bytes.length + cid.bytes.length + 4, signal)
      await wire.sendBlock(cid, bytes)
      metrics.blocksSent++
      metrics.bytesSent += bytes.length
      this.#options.onSent?.({ blocks: 1, bytes: bytes.length })
    }
    return unreadable
  }

  async #sendStored (wire: WireStream, cids: CID[]): Promise<number> {
    const { store, limiter, metrics, signal } = this.#options
    let unreadable = 0
    // the target takes a batch's blocks in any order: in the store's order they are read in runs
    for await (const { cid, stored } of storedInStoreOrder(store, cids)) {
      signal?.throwIfAborted()
      if (stored === undefined) {
        unreadable++
        continue
      }
      await limiter?.take(storedBlockFrameLength(cid, stored), signal)
      await wire.sendStored(cid, stored)
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

  async #send (message: Message, wire = this.wire): Promise<void> {
    this.#options.signal?.throwIfAborted()
    const { metrics, limiter } = this.#options
    countSent(metrics, message.type)
    if (message.type === 'have') await limiter?.take(message.cids.length * 40, this.#options.signal)
    await wire.send(message)
  }

  async #expect<T extends MessageType> (type: T, options: { signal?: AbortSignal } = {}): Promise<MessageOf<T>> {
    return await this.wire.expect(type, options)
  }

  async #request<T extends MessageType> (message: Message, reply: T, options: { signal?: AbortSignal } = {}, wire = this.wire): Promise<MessageOf<T>> {
    await this.#send(message, wire)
    return await wire.expect(reply, options)
  }
}
