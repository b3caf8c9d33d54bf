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

describe('frame writer: small frames gathered into one muxer message', () => {
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

  async function blockFrame (bytes: Uint8Array): Promise<Uint8Array[]> {
    return encodeBlockFrame(CID.createV1(0x55, await sha256.digest(bytes)), bytes)
  }

  const turn = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

  it('small frames written in one turn of the event loop go as one send, their bytes in order; the caller\'s buffers are free at once', async () => {
    const stream = new RecordingStream()
    const writer = new FrameWriter(stream as unknown as Stream)
    const bodies = [1, 2, 3].map(n => new Uint8Array(4096).fill(n))
    const frames = await Promise.all(bodies.map(blockFrame))
    assert.ok(frames[0].length > 1, 'a block frame is built of parts (header, CID, body)')
    const message = encodeMessageFrame({ type: 'done' })
    for (const parts of frames) await writer.write(parts)
    await writer.write([message])
    const expected = Buffer.concat([...frames.flat(), message])
    // the caller's buffers are its own again: what will be sent is a copy
    for (const body of bodies) body.fill(0)
    assert.equal(stream.sends.length, 0, 'nothing is sent before the event loop turns')
    await turn()
    assert.equal(stream.sends.length, 1, 'one send for the four frames')
    assert.deepEqual(Buffer.from(stream.sends[0]), expected)
    // the stream keeps what it was given until it is sent: the frames that follow, gathered in
    // the writer's buffer, leave it as it was
    await writer.write([encodeMessageFrame({ type: 'have', cids: [] })])
    await writer.write(await blockFrame(new Uint8Array(40_000).fill(9)))
    await turn()
    await writer.write([encodeMessageFrame({ type: 'done' })])
    await turn()
    assert.equal(stream.sends.length, 3)
    assert.deepEqual(Buffer.from(stream.sends[0]), expected, 'a send is not changed by the writes after it')
  })

  it('a frame alone still goes out when the event loop turns, and flush() sends at once', async () => {
    const stream = new RecordingStream()
    const writer = new FrameWriter(stream as unknown as Stream)
    const message = encodeMessageFrame({ type: 'done' })
    await writer.write([message])
    await turn()
    assert.deepEqual(stream.sends.map(s => Buffer.from(s)), [Buffer.from(message)])
    await writer.write([message])
    writer.flush()
    assert.equal(stream.sends.length, 2, 'flush sends without waiting for the turn')
    await turn()
    assert.equal(stream.sends.length, 2, 'and nothing is sent twice')
    await writer.write([message])
    writer.discard()
    await turn()
    assert.equal(stream.sends.length, 2, 'discard drops what was not sent')
  })

  it('gathered frames go out before a frame that would not fit, and before a large frame, which is sent uncopied', async () => {
    const stream = new RecordingStream()
    const writer = new FrameWriter(stream as unknown as Stream)
    const frames = await Promise.all([1, 2, 3, 4, 5].map(async n => await blockFrame(new Uint8Array(20_000).fill(n))))
    for (const parts of frames) await writer.write(parts)
    const lengths = frames.map(parts => parts.reduce((sum, p) => sum + p.byteLength, 0))
    // three fit in 64 KiB, the fourth starts the next send
    assert.equal(stream.sends.length, 1)
    assert.equal(stream.sends[0].byteLength, lengths[0] + lengths[1] + lengths[2])
    assert.ok(stream.sends[0].byteLength <= COALESCE_BELOW)

    const large = new Uint8Array(COALESCE_BELOW + 1)
    const largeParts = await blockFrame(large)
    await writer.write(largeParts)
    assert.equal(stream.sends[1].byteLength, lengths[3] + lengths[4], 'the frames gathered go first')
    assert.equal(stream.sends.length, 2 + largeParts.filter(p => p.byteLength > 0).length, 'no copy of a large body')
    assert.equal(stream.sends.at(-1), large, 'the body itself is sent')
    assert.deepEqual(Buffer.concat(stream.sends), Buffer.concat([...frames.flat(), ...largeParts]), 'every byte in order')
  })

  it('a send that fails after the stream was reset is reported by the next write, not thrown into the event loop', async () => {
    const stream = new RecordingStream()
    stream.send = () => { throw new Error('Cannot write to a stream that is closed') }
    const writer = new FrameWriter(stream as unknown as Stream)
    await writer.write([encodeMessageFrame({ type: 'done' })])
    await turn()
    await assert.rejects(writer.write([encodeMessageFrame({ type: 'done' })]), /Cannot write to a stream that is closed/)
  })
})
