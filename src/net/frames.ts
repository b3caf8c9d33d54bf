import type { AbortOptions, Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import { MalformedError } from '../errors.ts'
import { decodeFrameHeader, isMessageBody, MAX_FRAME_SIZE } from '../protocol/index.ts'

/**
 * Reads length-prefixed frames (`uvarint | body`) off a libp2p stream, with backpressure: when
 * more than `highWaterMark` bytes sit unread, the stream is paused, so the muxer stops granting
 * the sender window and the sender's `send()` starts returning false. Reading resumes it.
 *
 * The reader listens to the stream's events rather than iterating it: the async iterator of a
 * libp2p 3 stream buffers without bound, and it cannot be left and re-entered between frames.
 */
export class FrameReader {
  readonly #stream: Stream
  readonly #highWaterMark: number
  readonly #chunks: Uint8Array[] = []
  #buffered = 0
  #pauseScheduled = false
  #closed = false
  /** leading buffered bytes `scanMessages` has looked at: always whole frames */
  #scanned = 0
  #error: Error | undefined
  #wake: (() => void) | undefined
  readonly #onMessage: (evt: StreamMessageEvent) => void
  readonly #onEnd: () => void
  readonly #onClose: (evt: StreamCloseEvent) => void

  constructor (stream: Stream, options: { highWaterMark?: number } = {}) {
    this.#stream = stream
    // a whole frame must fit below the mark, or a paused reader could wait for itself
    this.#highWaterMark = Math.max(options.highWaterMark ?? 2 * MAX_FRAME_SIZE, MAX_FRAME_SIZE + 16)
    this.#onMessage = (evt) => {
      const data = evt.data
      if (data instanceof Uint8Array) this.#push(data)
      else for (const buf of data) this.#push(buf)
      if (this.#buffered > this.#highWaterMark) this.#pauseSoon()
      this.#notify()
    }
    this.#onEnd = () => { this.#notify() }
    this.#onClose = (evt) => {
      this.#closed = true
      if (evt.error != null) this.#error = evt.error
      this.#notify()
    }
    stream.addEventListener('message', this.#onMessage)
    stream.addEventListener('end', this.#onEnd)
    stream.addEventListener('close', this.#onClose)
  }

  /** Bytes received and not yet returned as frames. */
  get buffered (): number {
    return this.#buffered
  }

  /**
   * The next frame's body, or `undefined` when the remote closed its end cleanly between
   * frames. Throws `MalformedError` for a bad header or a stream that ends inside a frame, the
   * stream's error when it was reset or aborted, and `signal.reason` when `signal` aborts.
   */
  async next (options: AbortOptions = {}): Promise<Uint8Array | undefined> {
    while (true) {
      const header = decodeFrameHeader(this.#peek(4))
      if (header != null && this.#buffered >= header.headerLength + header.length) {
        this.#consume(header.headerLength)
        const body = this.#consume(header.length)
        this.#maybeResume()
        return body
      }
      if (this.#error != null) throw this.#error
      if (this.#stream.status === 'reset' || this.#stream.status === 'aborted') {
        // a reset ends the readable side before the 'close' event carrying its error
        throw Object.assign(new Error(`stream was ${this.#stream.status}`), { name: 'StreamResetError' })
      }
      if (this.#ended()) {
        if (this.#buffered === 0) return undefined
        throw new MalformedError(header == null
          ? `stream ended inside a frame header (${this.#buffered} bytes)`
          : `stream ended inside a frame: ${this.#buffered - header.headerLength} of ${header.length} bytes`)
      }
      await this.#waitForData(options.signal)
    }
  }

  /**
   * Calls `visit` with the body of each whole message frame (not block frames) that arrived
   * since the last call, without consuming it: `next()` still returns every frame in order.
   * This lets a side that is busy sending learn that its peer gave up (an `error` message).
   * A bad header ends the scan; `next()` reports it when the frame is read.
   */
  scanMessages (visit: (body: Uint8Array) => void): void {
    while (true) {
      let header
      try {
        header = decodeFrameHeader(this.#peekAt(this.#scanned, 4))
      } catch {
        return
      }
      if (header == null) return
      const start = this.#scanned + header.headerLength
      if (this.#buffered < start + header.length) return
      if (isMessageBody(this.#peekAt(start, 1))) visit(this.#peekAt(start, header.length))
      this.#scanned = start + header.length
    }
  }

  /** Stops listening to the stream. */
  release (): void {
    this.#stream.removeEventListener('message', this.#onMessage)
    this.#stream.removeEventListener('end', this.#onEnd)
    this.#stream.removeEventListener('close', this.#onClose)
    this.#notify()
  }

  #ended (): boolean {
    // 'end' fires once nothing more will be delivered; a plain close may still leave bytes in
    // the stream's own buffer while it is paused, which resuming delivers
    return this.#stream.readableEnded || (this.#closed && this.#stream.readBufferLength === 0)
  }

  #push (buf: Uint8Array): void {
    if (buf.byteLength === 0) return
    this.#chunks.push(buf)
    this.#buffered += buf.byteLength
  }

  /** Up to `n` leading bytes, without consuming them. */
  #peek (n: number): Uint8Array {
    return this.#peekAt(0, n)
  }

  /** Up to `n` buffered bytes from `offset` on, without consuming them (a view when they lie in one chunk). */
  #peekAt (offset: number, n: number): Uint8Array {
    let i = 0
    while (i < this.#chunks.length && offset >= this.#chunks[i].length) offset -= this.#chunks[i++].length
    const first = this.#chunks[i]
    if (first == null) return new Uint8Array(0)
    if (first.length - offset >= n || i === this.#chunks.length - 1) return first.subarray(offset, offset + n)
    const out = new Uint8Array(Math.min(n, this.#buffered))
    let filled = 0
    for (; i < this.#chunks.length && filled < out.length; i++) {
      const part = this.#chunks[i].subarray(offset, offset + out.length - filled)
      out.set(part, filled)
      filled += part.length
      offset = 0
    }
    return out.subarray(0, filled)
  }

  /** Removes and returns the next `n` bytes (a view when they lie in one chunk, else a copy). */
  #consume (n: number): Uint8Array {
    this.#buffered -= n
    this.#scanned = Math.max(0, this.#scanned - n)
    const first = this.#chunks[0]
    if (first.length > n) {
      this.#chunks[0] = first.subarray(n)
      return first.subarray(0, n)
    }
    if (first.length === n) {
      this.#chunks.shift()
      return first
    }
    const out = new Uint8Array(n)
    let filled = 0
    while (filled < n) {
      const chunk = this.#chunks[0]
      const take = Math.min(chunk.length, n - filled)
      out.set(chunk.subarray(0, take), filled)
      filled += take
      if (take === chunk.length) this.#chunks.shift()
      else this.#chunks[0] = chunk.subarray(take)
    }
    return out
  }

  /**
   * Pauses the stream once the current event is over, never inside it. `resume()` dispatches
   * the data buffered while paused and only then tells the muxer to grant window again: a pause
   * from inside that dispatch would be undone by the muxer (yamux keeps granting window to a
   * stream paused this way) and the stream's own buffer would grow until it is reset.
   */
  #pauseSoon (): void {
    if (this.#pauseScheduled) return
    this.#pauseScheduled = true
    queueMicrotask(() => {
      this.#pauseScheduled = false
      if (this.#buffered > this.#highWaterMark && this.#stream.readStatus === 'readable') this.#stream.pause()
    })
  }

  #maybeResume (): void {
    if (this.#stream.readStatus === 'paused' && this.#buffered <= this.#highWaterMark / 2) this.#stream.resume()
  }

  #notify (): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }

  async #waitForData (signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted()
    const { promise, resolve, reject } = Promise.withResolvers<void>()
    const onAbort = (): void => { reject(signal?.reason) }
    this.#wake = resolve
    signal?.addEventListener('abort', onAbort, { once: true })
    // waiting means the buffered bytes cannot finish a frame: a paused stream must flow again
    if (this.#stream.readStatus === 'paused') this.#stream.resume()
    try {
      await promise
    } finally {
      signal?.removeEventListener('abort', onAbort)
      if (this.#wake === resolve) this.#wake = undefined
    }
  }
}

/**
 * Frames up to this size are gathered into one buffer (one muxer frame) until it is full or the
 * event loop turns; larger ones are sent part by part, uncopied.
 */
export const COALESCE_BELOW = 64 * 1024

/**
 * Writes frames to a libp2p stream, honouring backpressure: while more than `highWaterMark`
 * bytes wait in the stream's send buffer (the muxer's window is used up because the peer is not
 * reading), a write does not return, so a fast producer stays about one frame ahead of the
 * network.
 *
 * This waits for the stream's 'drain' and 'idle' events itself instead of `stream.onDrain()`:
 * in @libp2p/utils 7.4 that promise is never renewed after its first resolution, so every later
 * call returns at once and the send buffer grows without bound.
 */
export class FrameWriter {
  readonly #stream: Stream
  readonly #highWaterMark: number
  /** small frames written since the last send, waiting to go out as one buffer */
  #pending = new Uint8Array(COALESCE_BELOW)
  #pendingLength = 0
  #flushScheduled: ReturnType<typeof setImmediate> | undefined
  /** what a deferred send threw (the stream was reset meanwhile): the next write throws it */
  #failed: unknown

  constructor (stream: Stream, options: { highWaterMark?: number } = {}) {
    this.#stream = stream
    this.#highWaterMark = options.highWaterMark ?? 1024 * 1024
  }

  /**
   * Sends the parts of one frame (header included), then waits while the send buffer is full.
   * `interrupt` ends the wait like `signal` (with its reason); it is a second signal so a caller
   * need not combine the two for every frame, which costs more than the frame.
   *
   * Each send() becomes a muxer frame of its own, with its own Noise message, TCP segment and,
   * on the receiving side, its own window update. So small frames are copied into one buffer
   * that goes out when it is full, when a large frame follows, on `flush()`, or when the event
   * loop turns (a producer that waits for anything, a read or a reply, lets it go): a run of
   * small blocks read ahead travels in 64 KiB sends, and nothing waits longer than one turn.
   * The caller's buffers are free when this returns, except a large frame's parts.
   */
  async write (parts: Uint8Array[], options: AbortOptions & { interrupt?: AbortSignal } = {}): Promise<void> {
    options.signal?.throwIfAborted()
    options.interrupt?.throwIfAborted()
    if (this.#failed !== undefined) throw this.#failed
    const length = parts.reduce((sum, part) => sum + part.byteLength, 0)
    if (length <= COALESCE_BELOW) {
      if (this.#pendingLength + length > COALESCE_BELOW) this.flush()
      for (const part of parts) {
        this.#pending.set(part, this.#pendingLength)
        this.#pendingLength += part.byteLength
      }
      this.#flushScheduled ??= setImmediate(this.#deferredFlush)
    } else {
      this.flush()
      for (const part of parts) {
        if (part.byteLength > 0) this.#stream.send(part)
      }
    }
    while (this.#stream.writeBufferLength > this.#highWaterMark) await this.#progress(options.signal, options.interrupt)
  }

  /** Sends the small frames gathered so far (before a close, or a large frame). */
  flush (): void {
    if (this.#flushScheduled !== undefined) {
      clearImmediate(this.#flushScheduled)
      this.#flushScheduled = undefined
    }
    if (this.#pendingLength === 0) return
    let frames: Uint8Array
    if (this.#pendingLength < COALESCE_BELOW / 2) {
      // a message or a few small blocks: a copy of them costs less than a new buffer (a
      // Uint8Array's slice copies; a Buffer's would be a view of the buffer reused next)
      frames = this.#pending.slice(0, this.#pendingLength)
    } else {
      // the stream keeps the buffer it is given: the next frames go to a new one
      frames = this.#pending.subarray(0, this.#pendingLength)
      this.#pending = new Uint8Array(COALESCE_BELOW)
    }
    this.#pendingLength = 0
    this.#stream.send(frames)
  }

  /** Drops what was not sent yet (the stream is being reset). */
  discard (): void {
    if (this.#flushScheduled !== undefined) clearImmediate(this.#flushScheduled)
    this.#flushScheduled = undefined
    this.#pendingLength = 0
  }

  readonly #deferredFlush = (): void => {
    this.#flushScheduled = undefined
    try {
      this.flush()
    } catch (err) {
      // the stream ended under us (reset by the peer): the writer's next call reports it
      this.#failed = err
    }
  }

  /** Resolves when the stream sent something ('drain': the window reopened; 'idle': all sent). */
  async #progress (signal?: AbortSignal, interrupt?: AbortSignal): Promise<void> {
    const stream = this.#stream
    const { promise, resolve, reject } = Promise.withResolvers<void>()
    const onSent = (): void => { resolve() }
    const onClose = (evt: StreamCloseEvent): void => { reject(evt.error ?? new Error(`stream closed with ${stream.writeBufferLength} bytes unsent`)) }
    const onAbort = (): void => { reject(signal?.reason) }
    const onInterrupt = (): void => { reject(interrupt?.reason) }
    stream.addEventListener('drain', onSent)
    stream.addEventListener('idle', onSent)
    stream.addEventListener('close', onClose)
    signal?.addEventListener('abort', onAbort)
    interrupt?.addEventListener('abort', onInterrupt)
    try {
      if (stream.status !== 'open') throw new Error(`stream is ${stream.status} with ${stream.writeBufferLength} bytes unsent`)
      signal?.throwIfAborted()
      interrupt?.throwIfAborted()
      await promise
    } finally {
      stream.removeEventListener('drain', onSent)
      stream.removeEventListener('idle', onSent)
      stream.removeEventListener('close', onClose)
      signal?.removeEventListener('abort', onAbort)
      interrupt?.removeEventListener('abort', onInterrupt)
    }
  }
}
