import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Stream } from '@libp2p/interface'
import { COALESCE_BELOW, FrameReader, FrameWriter } from '../../src/net/frames.ts'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { decodeFrameBody, encodeBlockFrame, encodeMessageFrame, MAX_FRAME_SIZE } from '../../src/protocol/index.ts'

/**
 * The part of a libp2p 3 stream a FrameReader uses, with the order of `resume()` that matters:
 * @libp2p/utils dispatches the data buffered while paused first, and only then tells the muxer
 * to grant window again (`sendResume`). `windowOpen` is what the muxer would do.
 */
class PausableStream extends EventTarget {
  readStatus: 'readable' | 'paused' = 'readable'
  status = 'open'
  readableEnded = false
  readBufferLength = 0
  windowOpen = true
  resumes = 0
  readonly #held: Uint8Array[] = []

  deliver (data: Uint8Array): void {
    if (this.readStatus === 'paused') {
      this.#held.push(data)
      this.readBufferLength += data.length
      return
    }
    this.dispatchEvent(Object.assign(new Event('message'), { data }))
  }

  pause (): void {
    this.readStatus = 'paused'
    this.windowOpen = false
  }

  resume (): void {
    this.resumes++
    this.readStatus = 'readable'
    const held = this.#held.splice(0)
    this.readBufferLength = 0
    for (const data of held) this.dispatchEvent(Object.assign(new Event('message'), { data }))
    this.windowOpen = true
  }
}

describe('frame reader backpressure', () => {
  it('stays paused when the data dispatched on resume fills it again', async () => {
    const stream = new PausableStream()
    // the smallest mark a reader accepts: one whole frame must fit below it
    const mark = MAX_FRAME_SIZE + 16
    const reader = new FrameReader(stream as unknown as Stream, { highWaterMark: mark })
    const bytes = new Uint8Array(256 * 1024).fill(7)
    const frame = Buffer.concat(encodeBlockFrame(CID.createV1(0x55, await sha256.digest(bytes)), bytes))
    const fill = (total: number): void => { for (let n = 0; n < total; n += frame.length) stream.deliver(frame) }

    fill(mark + frame.length)
    await Promise.resolve()
    assert.equal(stream.readStatus, 'paused', 'past the high-water mark the reader pauses the stream')
    fill(3 * mark) // held by the paused stream
    // reading down to half the mark resumes; what the stream held takes the reader past the mark
    while (stream.resumes === 0) await reader.next()
    await new Promise(resolve => setImmediate(resolve))
    assert.equal(stream.readStatus, 'paused')
    assert.equal(stream.windowOpen, false, 'the muxer must not be left granting window to a paused stream')
  })
})

describe('frame reader: looking for messages among unread frames', { timeout: 10_000 }, () => {
  it('visits each whole message frame once, skips blocks, and consumes nothing', async () => {
    const stream = new PausableStream()
    const reader = new FrameReader(stream as unknown as Stream)
    const bytes = new Uint8Array(100_000).fill(3)
    const blockFrame = Buffer.concat(encodeBlockFrame(CID.createV1(0x55, await sha256.digest(bytes)), bytes))
    const reply = encodeMessageFrame({ type: 'have-reply', count: 1, missing: new Uint8Array([1]) })
    const error = encodeMessageFrame({ type: 'error', code: 'refused', message: 'no space left on device on its disk' })
    const seen: string[] = []
    const scan = (): void => { reader.scanMessages(body => { seen.push(decodeFrameBody(body).type) }) }

    stream.deliver(reply)
    stream.deliver(blockFrame.subarray(0, 1000))
    scan()
    assert.deepEqual(seen, ['have-reply'], 'a frame not whole yet is left for later')
    // the rest of the block, then the error split across two chunks
    stream.deliver(Buffer.concat([blockFrame.subarray(1000), error.subarray(0, 10)]))
    scan()
    assert.deepEqual(seen, ['have-reply'])
    stream.deliver(error.subarray(10))
    scan()
    scan()
    assert.deepEqual(seen, ['have-reply', 'error'], 'each message once, blocks skipped')

    // next() still returns every frame in order; scanning after reads starts where it left off
    assert.equal(decodeFrameBody((await reader.next())!).type, 'have-reply')
    assert.equal(decodeFrameBody((await reader.next())!).type, 'block')
    scan()
    assert.deepEqual(seen, ['have-reply', 'error'])
    assert.equal(decodeFrameBody((await reader.next())!).type, 'error')
    stream.deliver(reply)
    scan()
    assert.deepEqual(seen, ['have-reply', 'error', 'have-reply'])
  })
})

describe('frame writer: one muxer message per small frame', () => {
  /** The part of a stream a FrameWriter uses: records each send (each is a muxer data frame). */
  class RecordingStream extends EventTarget {
    status = 'open'
    writeBufferLength = 0
    readonly sends: Uint8Array[] = []
    send (data: Uint8Array): boolean {
      this.sends.push(data)
      return true
    }
  }

  it('a small block frame goes as one send, its bytes in order; a large one part by part', async () => {
    const stream = new RecordingStream()
    const writer = new FrameWriter(stream as unknown as Stream)
    const small = new Uint8Array(4096).fill(7)
    const smallCid = CID.createV1(0x55, await sha256.digest(small))
    const smallParts = encodeBlockFrame(smallCid, small)
    assert.ok(smallParts.length > 1, 'a block frame is built of parts (header, CID, body)')
    await writer.write(smallParts)
    assert.equal(stream.sends.length, 1)
    assert.deepEqual(Buffer.from(stream.sends[0]), Buffer.concat(smallParts))
    small.fill(0) // the caller's buffer is its own again: what was sent is a copy
    assert.deepEqual(Buffer.from(stream.sends[0]), Buffer.concat(encodeBlockFrame(smallCid, new Uint8Array(4096).fill(7))))

    const large = new Uint8Array(COALESCE_BELOW + 1)
    const largeCid = CID.createV1(0x55, await sha256.digest(large))
    const largeParts = encodeBlockFrame(largeCid, large)
    await writer.write(largeParts)
    assert.equal(stream.sends.length, 1 + largeParts.filter(p => p.byteLength > 0).length, 'no copy of a large body')
    assert.equal(stream.sends.at(-1), large, 'the body itself is sent')
  })
})
