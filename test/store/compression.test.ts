import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { looksIncompressible, unzstd } from '../../src/store/compression.ts'
import { compressibleBlock, putAll, TestRepo, zstd } from './helpers.ts'

describe('block compression', () => {
  it('judges random bytes incompressible and text, zeros and small blocks not', () => {
    assert.equal(looksIncompressible(randomBytes(64 * 1024)), true)
    assert.equal(looksIncompressible(new Uint8Array(64 * 1024)), false)
    const text = new TextEncoder().encode('the quick brown fox jumps over the lazy dog, again and again; '.repeat(2000))
    assert.equal(looksIncompressible(text), false)
    assert.equal(looksIncompressible(randomBytes(4000)), false, 'too small to sample: zstd decides')
  })

  it('judges a block by samples from all of it, not only its start', () => {
    const block = new Uint8Array(64 * 1024)
    block.set(randomBytes(8 * 1024)) // random head, zero rest: compresses well
    assert.equal(looksIncompressible(block), false)
  })

  it('compresses on a worker: random bytes come back as not smaller, many blocks at once in order', async () => {
    assert.equal(await zstd(randomBytes(10_000)), undefined)
    const blocks = Array.from({ length: 1500 }, (_, i) => new TextEncoder().encode(`block ${i} `.repeat(50 + i % 300)))
    const frames = await Promise.all(blocks.map(async (b) => await zstd(b)))
    for (let i = 0; i < blocks.length; i++) {
      const frame = frames[i]
      assert.ok(frame !== undefined)
      assert.deepEqual(new Uint8Array(await unzstd(frame, blocks[i].length)), blocks[i])
    }
  })

  it('round-trips a zstd frame and refuses content longer than announced', async () => {
    const bytes = compressibleBlock(100_000).bytes
    const frame = await zstd(bytes)
    assert.ok(frame !== undefined && frame.length < bytes.length / 4)
    assert.deepEqual(new Uint8Array(await unzstd(frame, bytes.length)), bytes)
    await assert.rejects(unzstd(frame, bytes.length - 1))
  })

  it('serves many concurrent reads of compressed blocks (jobs queue for the thread pool)', async () => {
    const repo = await TestRepo.create()
    try {
      const store = await repo.open()
      const blocks = Array.from({ length: 200 }, () => compressibleBlock(30_000))
      await putAll(store, blocks)
      const read = await Promise.all(blocks.map(async (b) => await store.get(b.cid)))
      read.forEach((bytes, i) => { assert.deepEqual(new Uint8Array(bytes), blocks[i].bytes) })
      const stats = await store.stats()
      assert.ok(stats.storedBytes < stats.rawBytes / 4, `${stats.storedBytes} of ${stats.rawBytes} bytes stored`)
      await store.close()
    } finally {
      await repo.cleanup()
    }
  })
})
