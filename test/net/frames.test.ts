import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Stream } from '@libp2p/interface'
import { FrameReader } from '../../src/net/frames.ts'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { encodeBlockFrame, MAX_FRAME_SIZE } from '../../src/replication/wire.ts'

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
