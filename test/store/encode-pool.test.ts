import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { zstdCompressSync, zstdDecompressSync } from 'node:zlib'
import { createHash } from 'node:crypto'
import { EncodePool, StoredBodyError } from '../../src/store/encode-pool.ts'
import type { EncodedBody } from '../../src/store/encode-pool.ts'
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

  it('sends a batch the event loop cut short as a copy of its bytes sized to them, and fills its buffer again with the next batch: each body still decodes to its own block', async () => {
    const binary = await readFile(process.execPath)
    const pool = new EncodePool(1, 3)
    const rounds: Array<{ blocks: Uint8Array[], pending: Array<Promise<EncodedBody>> }> = []
    for (let round = 0; round < 3; round++) {
      // a few small blocks, then a turn of the event loop: the batch goes out mostly empty
      const blocks = Array.from({ length: 3 }, (_, i) => new Uint8Array(binary.subarray(2_000_000 + (round * 3 + i) * 9000, 2_000_000 + (round * 3 + i) * 9000 + 5000)))
      rounds.push({ blocks, pending: blocks.map((bytes) => pool.reserve(bytes).commit(true)) })
      await new Promise(resolve => setImmediate(resolve))
    }
    for (const { blocks, pending } of rounds) {
      const bodies = await Promise.all(pending)
      const total = blocks.reduce((sum, b) => sum + b.length, 0)
      assert.equal(bodies[0].body.buffer.byteLength, total, 'the batch travelled as a copy the size of its blocks, not its 1 MiB buffer')
      for (const [i, encoded] of bodies.entries()) {
        const decoded = (encoded.flags & FLAG_ZSTD) !== 0 ? new Uint8Array(zstdDecompressSync(encoded.body)) : new Uint8Array(encoded.body)
        assert.deepEqual(decoded, blocks[i])
      }
    }
  })

  it('proves stored bodies in the same batch as blocks to compress: proved ones come back as they came, a refused one takes no room, and the buffer is freed once the bodies handed back are released', async () => {
    const binary = await readFile(process.execPath)
    const slices = Array.from({ length: 6 }, (_, i) => new Uint8Array(binary.subarray(3_000_000 + i * 50_000, 3_000_000 + i * 50_000 + 24_000)))
    const digest = (bytes: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(bytes).digest())
    const pool = new EncodePool(1, 3)
    // in order: compress, verify (zstd), verify (wrong: another slice's frame), compress, verify (raw), compress
    const frame = (bytes: Uint8Array): Uint8Array => new Uint8Array(zstdCompressSync(bytes))
    const stored = [frame(slices[1]), frame(slices[0]), slices[4]]
    const pending: Array<Promise<EncodedBody>> = [
      pool.reserve(slices[0]).commit(true),
      pool.reserve(stored[0]).verify({ flags: FLAG_ZSTD, rawLength: slices[1].length, digest: digest(slices[1]) }),
      pool.reserve(stored[1]).verify({ flags: FLAG_ZSTD, rawLength: slices[2].length, digest: digest(slices[2]) }),
      pool.reserve(slices[3]).commit(true),
      pool.reserve(stored[2]).verify({ flags: 0, rawLength: slices[4].length, digest: digest(slices[4]) }),
      pool.reserve(slices[5]).commit(true)
    ]
    const settled = await Promise.allSettled(pending)
    const refused = settled[2]
    assert.ok(refused.status === 'rejected' && refused.reason instanceof StoredBodyError && /do not match its hash/.test(refused.reason.message), String((refused as PromiseRejectedResult).reason))
    const bodies = settled.filter((r): r is PromiseFulfilledResult<EncodedBody> => r.status === 'fulfilled').map(r => r.value)
    assert.equal(bodies.length, 5)
    const [first, provedZstd, second, provedRaw, third] = bodies
    assert.deepEqual(new Uint8Array(provedZstd.body), stored[0], 'a proved zstd body comes back as it came')
    assert.equal(provedZstd.flags, FLAG_ZSTD)
    assert.deepEqual(new Uint8Array(provedRaw.body), slices[4], 'a proved raw body comes back as it came')
    assert.equal(provedRaw.flags, 0)
    for (const [encoded, original] of [[first, slices[0]], [second, slices[3]], [third, slices[5]]] as const) {
      assert.deepEqual(new Uint8Array(zstdDecompressSync(encoded.body)), original, 'the compressed blocks around them decode')
    }
    const buffer = first.body.buffer
    for (const encoded of bodies) assert.equal(encoded.body.buffer, buffer, 'one buffer for the whole batch')
    for (const encoded of bodies.slice(0, -1)) encoded.release?.()
    assert.ok(buffer.byteLength > 0, 'kept while one body is not released')
    bodies.at(-1)!.release?.()
    assert.equal(buffer.byteLength, 0, 'freed once every body handed back is released: the refused one is not waited for')
  })
})
