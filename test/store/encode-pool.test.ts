import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { zstdCompressSync, zstdDecompressSync } from 'node:zlib'
import { EncodePool } from '../../src/store/encode-pool.ts'
import { FLAG_ZSTD } from '../../src/store/pack-format.ts'

/**
 * The encode pool hands each batch to a worker and gets the bodies back in the same buffer; a
 * writer releases each body once its pack write is done, and the batch's buffer is freed when
 * the last of them is (not when garbage collection gets to it). Real data: slices of this
 * machine's node binary (code, compressible) and of its own zstd frames (incompressible).
 */
describe('encode pool', { timeout: 60_000 }, () => {
  it('returns every body in its batch buffer, decoding to its block, and frees the buffer once all are released', async () => {
    const binary = await readFile(process.execPath)
    const blocks: Uint8Array[] = []
    for (let i = 0; i < 12; i++) {
      const slice = binary.subarray(1_000_000 + i * 40_000, 1_000_000 + i * 40_000 + 20_000 + i * 1000)
      // every other block already compressed: stored as it is
      blocks.push(i % 2 === 0 ? new Uint8Array(slice) : new Uint8Array(zstdCompressSync(slice)))
    }
    const pool = new EncodePool(1, 3)
    const pending = blocks.map((bytes) => pool.reserve(bytes).commit(true))
    const bodies = await Promise.all(pending)
    const buffer = bodies[0].body.buffer
    for (const [i, encoded] of bodies.entries()) {
      assert.equal(encoded.body.buffer, buffer, 'one buffer for the whole batch')
      const decoded = (encoded.flags & FLAG_ZSTD) !== 0 ? new Uint8Array(zstdDecompressSync(encoded.body)) : new Uint8Array(encoded.body)
      assert.deepEqual(decoded, blocks[i], `block ${i}`)
    }
    assert.ok(bodies.some(b => (b.flags & FLAG_ZSTD) !== 0) && bodies.some(b => (b.flags & FLAG_ZSTD) === 0), 'both kinds of body')
    for (const encoded of bodies.slice(0, -1)) {
      encoded.release?.()
      encoded.release?.() // twice is once
    }
    assert.ok(buffer.byteLength > 0, 'kept while one body is not released')
    assert.equal(bodies.at(-1)!.body.length > 0, true)
    bodies.at(-1)!.release?.()
    assert.equal(buffer.byteLength, 0, 'freed (detached) once the last body is released')
  })
})
