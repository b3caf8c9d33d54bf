import type { AbortOptions, Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import {
  asExpectedError, BadSignatureError, CorruptBlockError, ExpectedError, FileSystemError, isExpectedError, MalformedError, MissingBlockError, NotAuthorizedError, NotFoundError
} from '../errors.ts'
import { decodeFrameBody, encodeBlockFrame, encodeMessageFrame, encodeStoredBlockFrame, STORED_BLOCK_PROTOCOLS, verifyBlock } from '../protocol/index.ts'
import type { ErrorCode, Frame, Message, MessageOf, MessageType, StoredBody } from '../protocol/index.ts'
import { PeerTimeoutError, RateLimitedError, RemoteError, StreamEndedError } from './errors.ts'
import { FrameReader, FrameWriter } from './frames.ts'

/** Default deadline of one send or receive, when the caller passes no signal. */
export const DEFAULT_EXCHANGE_TIMEOUT = 30_000

export interface WireStreamOptions {
  /** how the peer is named in error messages (its peer id, or `name (peer id)`) */
  peer: string
  /** deadline in ms of each send and receive made without a signal */
  timeout?: number
  /** told the bytes of every frame sent and received (length prefix included) */
  onBytes?: (direction: 'sent' | 'received', bytes: number) => void
}

/**
 * Messages and blocks over one libp2p stream: framing, validation, block verification,
 * backpressure and deadlines in one place, so protocol code reads as the exchange it is:
 *
 *   const reply = await wire.request({ type: 'have', cids }, 'have-reply')
 *
 * Every failure is an `ExpectedError` naming the peer: `MalformedError` for bad bytes,
 * `CorruptBlockError` for a block that does not match its CID, `PeerTimeoutError`,
 * `StreamEndedError`, or the error the peer sent (see `errorFromWire`).
 */
export class WireStream {
  readonly stream: Stream
  readonly peer: string
  /**
   * Whether blocks travel here as stored-block frames (a version 2 protocol was negotiated) or
   * as raw block frames (version 1). Each kind is refused on the other's streams.
   */
  readonly storedBlocks: boolean
  /** bytes of the frames sent and received so far, length prefixes included */
  bytesSent = 0
  bytesReceived = 0
  readonly #onBytes: WireStreamOptions['onBytes']
  readonly #reader: FrameReader
  readonly #writer: FrameWriter
  readonly #timeout: number
  /** the `error` message the peer sent, noticed while we were sending */
  #peerFailure: ExpectedError | undefined
  /** aborted with the peer's error when it arrives while a write waits */
  readonly #peerGaveUp = new AbortController()
  #writing = false
  #bytesWritten = 0

  constructor (stream: Stream, options: WireStreamOptions) {
    this.stream = stream
    this.peer = options.peer
    this.storedBlocks = STORED_BLOCK_PROTOCOLS.has(stream.protocol)
    this.#onBytes = options.onBytes
    this.#timeout = options.timeout ?? DEFAULT_EXCHANGE_TIMEOUT
    this.#reader = new FrameReader(stream)
    this.#writer = new FrameWriter(stream)
    // after the reader's own listener: it has buffered the bytes by the time this one looks
    stream.addEventListener('message', this.#onMessage)
  }

  /** bytes of the frames written so far (messages and blocks, before the stream's encryption) */
  get bytesWritten (): number {
    return this.#bytesWritten
  }

  async send (message: Message, options: AbortOptions = {}): Promise<void> {
    await this.#write([encodeMessageFrame(message)], `sending ${message.type}`, options)
  }

  /**
   * Sends a block frame; `owned` must hash to `cid` (the receiver checks).
   *
   * Ownership: the frame is queued without a copy and the stream sends it after this resolves,
   * so the caller gives `owned` away and must never change it afterwards (every caller passes a
   * buffer of its own, such as a `BlockStore.get` result). A copy here would cost a pass over
   * every byte sent for no caller that needs it.
   */
  async sendBlock (cid: CID, owned: Uint8Array, options: AbortOptions = {}): Promise<void> {
    await this.#write(encodeBlockFrame(cid, owned), `sending block ${cid}`, options)
  }

  /**
   * Sends a block in its stored form (version 2 streams only). Same ownership as `sendBlock`:
   * `stored.body` is given away. The receiver proves it before it counts.
   */
  async sendStored (cid: CID, stored: StoredBody, options: AbortOptions = {}): Promise<void> {
    if (!this.storedBlocks) throw new Error(`a stored block cannot go to peer ${this.peer} on ${this.stream.protocol}, which carries raw blocks`)
    await this.#write(encodeStoredBlockFrame(cid, stored), `sending block ${cid}`, options)
  }

  /**
   * The next frame, or `undefined` when the peer closed its end between frames. Raw blocks
   * (version 1) are verified against their CID here (`CorruptBlockError` otherwise); stored
   * blocks (version 2) are proved by the store they go to (`BlockWriter.putStored`), on a
   * worker, so nothing here decompresses. An `error` message is returned as a frame like any
   * other; `expect` is the variant that throws it.
   */
  async receive (options: AbortOptions = {}): Promise<Frame | undefined> {
    let frame: Frame
    try {
      const body = await this.#guard('waiting for a message', options, async (signal) => await this.#reader.next({ signal }))
      if (body == null) return undefined
      this.#count('received', body.length + headerLength(body.length))
      frame = decodeFrameBody(body)
      if (frame.type === 'block' && this.storedBlocks) throw new MalformedError(`a raw block frame (block ${frame.cid}) on ${this.stream.protocol}, which carries stored-block frames`)
      if (frame.type === 'stored-block' && !this.storedBlocks) throw new MalformedError(`a stored-block frame (block ${frame.cid}) on ${this.stream.protocol}, which carries raw block frames`)
    } catch (err: any) {
      if (err instanceof MalformedError) throw new MalformedError(`peer ${this.peer} sent a malformed frame: ${err.message}`)
      throw err
    }
    if (frame.type === 'block') {
      try {
        verifyBlock(frame)
      } catch {
        throw new CorruptBlockError(frame.cid.toString(), `the bytes peer ${this.peer} sent do not match its hash`)
      }
    }
    return frame
  }

  /**
   * The next frame, which must be a `type` message. An `error` message from the peer is thrown
   * as the matching error; anything else, or the end of the stream, is a failure naming what
   * was expected.
   */
  async expect<T extends MessageType> (type: T, options: AbortOptions = {}): Promise<MessageOf<T>> {
    const frame = await this.receive(options)
    if (frame == null) throw new StreamEndedError(this.peer, `peer ${this.peer} closed the stream instead of sending ${type}`)
    if (frame.type === type) return frame as MessageOf<T>
    if (frame.type === 'error' && type !== 'error') throw errorFromWire(this.peer, frame.code, frame.message)
    throw new MalformedError(`peer ${this.peer} sent ${frame.type === 'block' || frame.type === 'stored-block' ? `block ${frame.cid}` : frame.type} where ${type} was expected`)
  }

  /** Sends `message` and waits for its `reply`. */
  async request<T extends MessageType> (message: Message, reply: T, options: AbortOptions = {}): Promise<MessageOf<T>> {
    await this.send(message, options)
    return await this.expect(reply, options)
  }

  /**
   * Closes our writing end once everything queued is sent; the peer reads to the end of what we
   * sent, and we can still read its replies.
   */
  async close (options: AbortOptions = {}): Promise<void> {
    await this.#guard('closing the stream', options, async (signal) => {
      this.#writer.flush()
      await this.stream.close({ signal })
    })
  }

  /**
   * Tells the peer why this exchange failed (an `error` message, as far as the stream still
   * takes one) and closes the stream. Errors that are not `ExpectedError`s are bugs: the peer gets
   * `internal` without details.
   */
  async fail (err: unknown): Promise<void> {
    const { code, message } = errorToWire(err)
    try {
      await this.send({ type: 'error', code, message }, { signal: AbortSignal.timeout(Math.min(this.#timeout, 5_000)) })
      await this.close({ signal: AbortSignal.timeout(Math.min(this.#timeout, 5_000)) })
    } catch {
      this.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  /** Resets the stream at once, discarding anything unsent. */
  abort (err: Error): void {
    this.#writer.discard()
    this.stream.abort(err)
    this.stream.removeEventListener('message', this.#onMessage)
    this.#reader.release()
  }

  /**
   * Sends one frame. A peer that sent `error` has given up on the session (docs/protocol.md,
   * Errors): its error is thrown here, also when it arrives while the write waits for the peer
   * to read, so a side busy sending learns at once why its peer stopped (a target whose disk is
   * full), not at its next read or after the deadline.
   */
  async #write (parts: Uint8Array[], what: string, options: AbortOptions): Promise<void> {
    const failed = this.#checkPeerFailure()
    if (failed !== undefined) throw failed
    if (this.stream.writeStatus !== 'writable') {
      throw new StreamEndedError(this.peer, `${what} to peer ${this.peer}: the stream is already ${this.stream.status === 'open' ? 'closed for writing' : this.stream.status}`)
    }
    this.#writing = true
    try {
      await this.#guard(what, options, async (signal) => { await this.#writer.write(parts, { signal, interrupt: this.#peerGaveUp.signal }) })
      for (const part of parts) this.#bytesWritten += part.length
    } finally {
      this.#writing = false
    }
    let bytes = 0
    for (const part of parts) bytes += part.length
    this.#count('sent', bytes)
  }

  #count (direction: 'sent' | 'received', bytes: number): void {
    if (direction === 'sent') this.bytesSent += bytes
    else this.bytesReceived += bytes
    this.#onBytes?.(direction, bytes)
  }

  /** While a write waits for the peer to read, each arrival is checked for the peer's `error`. */
  readonly #onMessage = (): void => {
    if (!this.#writing) return
    const err = this.#checkPeerFailure()
    if (err !== undefined) this.#peerGaveUp.abort(err)
  }

  /** The error the peer sent, if one is among the frames received and not read yet. */
  #checkPeerFailure (): ExpectedError | undefined {
    if (this.#peerFailure !== undefined) return this.#peerFailure
    this.#reader.scanMessages((body) => {
      if (this.#peerFailure !== undefined) return
      let frame: Frame
      try {
        frame = decodeFrameBody(body)
      } catch {
        return // receive() reports it where it belongs
      }
      if (frame.type === 'error') this.#peerFailure = errorFromWire(this.peer, frame.code, frame.message)
    })
    return this.#peerFailure
  }

  /** Applies the default deadline and turns stream-level failures into errors naming the peer. */
  async #guard<R> (what: string, options: AbortOptions, fn: (signal: AbortSignal) => Promise<R>): Promise<R> {
    const signal = options.signal ?? AbortSignal.timeout(this.#timeout)
    try {
      return await fn(signal)
    } catch (err: any) {
      if (isExpectedError(err)) throw err
      if (signal.aborted && err === signal.reason) {
        if (err?.name === 'TimeoutError') {
          throw new PeerTimeoutError(this.peer, `${what}: no progress with peer ${this.peer} before the deadline${options.signal == null ? ` (${this.#timeout / 1000} s)` : ''}`)
        }
        throw err
      }
      const reset = this.stream.status === 'reset' || err?.name === 'StreamResetError'
      throw new StreamEndedError(this.peer, `${what}: the stream with peer ${this.peer} ${reset ? 'was reset' : 'ended'} (${err?.message ?? err})`)
    }
  }
}

/** Bytes of a frame's length prefix for a body of `length` bytes. */
function headerLength (length: number): number {
  let bytes = 1
  while (length >= 0x80) {
    length >>>= 7
    bytes++
  }
  return bytes
}

/** The error to throw for an `error` message a peer sent. */
export function errorFromWire (peer: string, code: ErrorCode, message: string): ExpectedError {
  // the text is the peer's: keep it to one printable line
  // eslint-disable-next-line no-control-regex
  const text = `peer ${peer}: ${message.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim()}`
  switch (code) {
    case 'not-authorized': return new NotAuthorizedError(text)
    case 'rate-limited': return new RateLimitedError(text)
    case 'not-found': return new NotFoundError(text)
    default: return new RemoteError(peer, code, text)
  }
}

/** The `error` message that tells a peer about `err`. */
export function errorToWire (failure: unknown): { code: ErrorCode, message: string } {
  const err = asExpectedError(failure)
  if (err === undefined) return { code: 'internal', message: 'internal error; see the log of the Core that reported it' }
  // a full or failing disk: the peer learns what happened and what became of its transfer, not our paths
  if (err instanceof FileSystemError) return { code: 'refused', message: err.forPeer }
  const message = err.message.slice(0, 1024)
  if (err instanceof RateLimitedError) return { code: 'rate-limited', message }
  if (err instanceof NotAuthorizedError) return { code: 'not-authorized', message }
  if (err instanceof NotFoundError || err instanceof MissingBlockError) return { code: 'not-found', message }
  if (err instanceof CorruptBlockError) return { code: 'corrupt-block', message }
  if (err instanceof BadSignatureError) return { code: 'bad-signature', message }
  if (err instanceof MalformedError) return { code: 'malformed', message }
  return { code: 'refused', message }
}
