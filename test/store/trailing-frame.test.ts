import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { zstdCompressSync, zstdDecompressSync } from 'node:zlib'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { FLAG_ZSTD } from '../../src/store/pack-format.ts'
import { firstFrameOnly, zstdFrameInfo } from '../../src/store/zstd-frame.ts'
import { block, putAll, TestRepo } from './helpers.ts'

/**
 * Bytes whose zstd output is exactly Node's 16 KiB output chunk: Node's compressor then appends
 * an empty 9-byte frame after the real one. Letters of 4 random bits each (about 2:1), found by
 * search: the first 32 683 compress to 16 384 bytes.
 */
function sixteenKiBFrame (): Uint8Array {
  const bytes = Buffer.alloc(32_683)
  for (let i = 0, c = 0; i < bytes.length; c++) {
    for (const byte of createHash('sha256').update(`drcore-${c}`).digest()) if (i < bytes.length) bytes[i++] = 97 + (byte & 15)
  }
  return new Uint8Array(bytes)
}

const EMPTY_FRAME = Buffer.from('28b52ffd2000010000', 'hex')

/**
 * A stored body is one zstd frame (seed parts are cut at frame boundaries, receivers check it):
 * the store trims the empty frame Node's compressor sometimes adds, when it writes a block and
 * when it reads one an older release stored, and takes a body with that frame from a peer.
 * Found by replicating real files: a peer refused such a block as corrupt.
 */
describe('a stored body is one zstd frame, whatever Node appends', () => {
  let repo: TestRepo
  beforeEach(async () => { repo = await TestRepo.create() })
  afterEach(async () => { await repo.cleanup() })

  it('the input that shows it: Node writes 16 384 bytes of frame, then an empty frame', () => {
    const out = zstdCompressSync(sixteenKiBFrame(), { pledgedSrcSize: 32_683 })
    assert.equal(zstdFrameInfo(out)?.length, 16_384)
    assert.deepEqual(out.subarray(16_384), EMPTY_FRAME)
  })

  it('a block written is stored and read back as its one frame', async () => {
    const b = block(sixteenKiBFrame())
    const store = await repo.open()
    await putAll(store, [b])
    const stored = await store.getStored(b.cid)
    assert.equal(stored.flags & FLAG_ZSTD, FLAG_ZSTD)
    assert.equal(zstdFrameInfo(stored.body)?.length, stored.body.length, 'nothing after the frame')
    assert.equal(await store.storedSize(b.cid), stored.body.length, 'the pack holds the trimmed body')
    assert.deepEqual(new Uint8Array(zstdDecompressSync(stored.body)), b.bytes)
    assert.deepEqual(new Uint8Array(await store.get(b.cid)), b.bytes)
    await store.close()
  })

  it('a body with the empty frame, from a peer or an older store, is taken and given out trimmed', async () => {
    const b = block(sixteenKiBFrame())
    const frame = Buffer.from(firstFrameOnly(zstdCompressSync(b.bytes, { pledgedSrcSize: b.bytes.length })))
    const given = Buffer.concat([frame, EMPTY_FRAME])
    const store = await repo.open()
    const writer = store.writer()
    assert.equal(await writer.putStored(b.cid, { flags: FLAG_ZSTD, body: given, rawLength: b.bytes.length }), true)
    given.fill(0) // the caller's buffer is its own again once putStored returned
    await writer.commit()
    const stored = await store.getStored(b.cid)
    assert.deepEqual(Buffer.from(stored.body), frame)
    assert.deepEqual(new Uint8Array(await store.get(b.cid)), b.bytes)
    await store.close()
  })

  it('only empty frames are trimmed: anything else after the frame is left for the shape check to refuse', () => {
    const frame = zstdCompressSync(Buffer.from('hello hello hello hello'))
    const other = zstdCompressSync(Buffer.from('x'))
    assert.equal(firstFrameOnly(Buffer.concat([frame, EMPTY_FRAME, EMPTY_FRAME])).length, frame.length)
    assert.equal(firstFrameOnly(Buffer.concat([frame, other])).length, frame.length + other.length)
    assert.equal(firstFrameOnly(Buffer.concat([frame, Buffer.from([1, 2, 3])])).length, frame.length + 3)
    assert.equal(firstFrameOnly(frame).length, frame.length)
  })
})
