import assert from 'node:assert/strict'
import { createHash, randomFillSync } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { chunkingForAverage, createChunker, DEFAULT_CHUNKING, FastCdc, LEGACY_CHUNKING } from '../../src/chunker/index.ts'
import type { Chunker, ChunkerOptions } from '../../src/chunker/index.ts'

const SMALL: ChunkerOptions = { minSize: 512, avgSize: 2048, maxSize: 8192 }
const MiB = 1024 * 1024

/** Deterministic pseudo-random bytes (xorshift32), so pinned results never depend on the run. */
function pseudoRandom (length: number, seed: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(length / 4))
  let x = seed >>> 0 || 1
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    words[i] = x
  }
  return new Uint8Array(words.buffer, 0, length)
}

function randomBytes (length: number): Uint8Array {
  const bytes = new Uint8Array(length)
  for (let offset = 0; offset < length; offset += 65536) randomFillSync(bytes, offset, Math.min(65536, length - offset))
  return bytes
}

function chunkAll (chunker: Chunker, pieces: Uint8Array[]): Uint8Array[] {
  const chunks: Uint8Array[] = []
  for (const piece of pieces) chunks.push(...chunker.push(piece))
  chunks.push(...chunker.finish())
  return chunks
}

const lengths = (chunks: Uint8Array[]): number[] => chunks.map((c) => c.length)
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

function concat (chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let offset = 0
  for (const c of chunks) {
    out.set(c, offset)
    offset += c.length
  }
  return out
}

describe('FastCDC chunker', () => {
  it('cuts the same input at the same places every time', () => {
    const data = randomBytes(4 * MiB)
    assert.deepEqual(lengths(chunkAll(createChunker(), [data])), lengths(chunkAll(createChunker(), [data])))
  })

  it('keeps its boundaries pinned: the gear table and algorithm are part of the storage format', () => {
    // If this fails, every existing repository stops deduplicating against new backups.
    const small = lengths(chunkAll(new FastCdc(SMALL), [pseudoRandom(MiB, 1)]))
    assert.equal(small.length, 447)
    assert.deepEqual(small.slice(0, 8), [2613, 2133, 2100, 2542, 2390, 4842, 2332, 2122])
    // every size a repository may record: its backups dedup with its earlier ones only while these hold
    const pinned: Record<number, [number, number[]]> = {
      16: [448, [21611, 17991, 19767, 17399, 6726, 29079, 19368, 20877]],
      32: [216, [23029, 36340, 24125, 36385, 39724, 40433, 56448, 35432]],
      64: [115, [23029, 70732, 79477, 83246, 76365, 75289, 76905, 33694]]
    }
    for (const [kib, [count, first]] of Object.entries(pinned)) {
      const sizes = lengths(chunkAll(new FastCdc(chunkingForAverage(Number(kib) * 1024)), [pseudoRandom(8 * MiB, 2)]))
      assert.equal(sizes.length, count, `${kib} KiB average`)
      assert.deepEqual(sizes.slice(0, 8), first, `${kib} KiB average`)
    }
  })

  it('cuts the same bytes at other boundaries for each average a repository may record', () => {
    const data = pseudoRandom(4 * MiB, 3)
    const bySize = [16, 32, 64].map(kib => new Set(chunkAll(new FastCdc(chunkingForAverage(kib * 1024)), [data]).map(sha256)))
    // the masks are nested (a cut of a larger average often satisfies a smaller one's), so a few
    // chunks coincide; most do not
    for (let i = 0; i < bySize.length; i++) {
      for (let j = i + 1; j < bySize.length; j++) {
        const shared = [...bySize[i]].filter(h => bySize[j].has(h)).length
        assert.ok(shared < Math.min(bySize[i].size, bySize[j].size) / 4, `${shared} of ${bySize[i].size} and ${bySize[j].size} chunks shared by two averages`)
      }
    }
  })

  it('keeps the sizes of repositories made before sizes were recorded: 16 / 64 / 256 KiB', () => {
    assert.deepEqual({ ...LEGACY_CHUNKING }, { minSize: 16 * 1024, avgSize: 64 * 1024, maxSize: 256 * 1024 })
  })

  it('returns chunks whose concatenation is the input', () => {
    const data = randomBytes(8 * MiB)
    const chunks = chunkAll(createChunker(), [data])
    assert.ok(chunks.length > 50)
    assert.equal(sha256(concat(chunks)), sha256(data))
  })

  it('keeps every chunk within [minSize, maxSize], except a shorter last one', () => {
    for (const options of [SMALL, DEFAULT_CHUNKING]) {
      const sizes = lengths(chunkAll(new FastCdc(options), [randomBytes(8 * MiB), new Uint8Array(MiB), randomBytes(12345)]))
      for (const size of sizes.slice(0, -1)) {
        assert.ok(size >= options.minSize && size <= options.maxSize, `chunk of ${size} bytes outside [${options.minSize}, ${options.maxSize}]`)
      }
      assert.ok(sizes.at(-1)! >= 1 && sizes.at(-1)! <= options.maxSize)
    }
  })

  it('averages close to avgSize on random data', () => {
    const sizes = lengths(chunkAll(createChunker(), [randomBytes(32 * MiB)]))
    const average = 32 * MiB / sizes.length
    assert.ok(average > DEFAULT_CHUNKING.avgSize * 0.9 && average < DEFAULT_CHUNKING.avgSize * 1.4, `average ${average}`)
  })

  it('gives the same chunks when the stream is pushed in pieces split anywhere', () => {
    const data = randomBytes(256 * 1024)
    const expected = chunkAll(new FastCdc(SMALL), [data]).map(sha256)
    fc.assert(fc.property(
      fc.uniqueArray(fc.integer({ min: 0, max: data.length }), { maxLength: 40 }),
      (splits) => {
        const points = [0, ...splits.sort((a, b) => a - b), data.length]
        const pieces = points.slice(1).map((end, i) => data.subarray(points[i], end))
        assert.deepEqual(chunkAll(new FastCdc(SMALL), pieces).map(sha256), expected)
      }
    ), { numRuns: 200 })
  })

  it('gives the same chunks for 1 MiB reads as for the whole buffer at default sizes', () => {
    const data = randomBytes(16 * MiB + 777)
    const pieces: Uint8Array[] = []
    for (let offset = 0; offset < data.length; offset += MiB) pieces.push(data.subarray(offset, offset + MiB))
    assert.deepEqual(chunkAll(createChunker(), pieces).map(sha256), chunkAll(createChunker(), [data]).map(sha256))
  })

  it('returns chunks inside one pushed piece as views of it, without copying', () => {
    const data = randomBytes(2 * MiB)
    const chunks = chunkAll(createChunker(), [data])
    assert.ok(chunks.length > 2)
    for (const chunk of chunks.slice(0, -1)) assert.equal(chunk.buffer, data.buffer)
  })

  it('keeps no reference to a pushed piece after push returns', () => {
    const data = randomBytes(MiB)
    const expected = chunkAll(new FastCdc(SMALL), [data]).map(sha256)
    const chunker = new FastCdc(SMALL)
    const reused = new Uint8Array(1000)
    const got: string[] = []
    for (let offset = 0; offset < data.length; offset += reused.length) {
      const piece = data.subarray(offset, offset + reused.length)
      reused.set(piece)
      for (const chunk of chunker.push(reused.subarray(0, piece.length))) got.push(sha256(chunk))
      reused.fill(0xee)
    }
    for (const chunk of chunker.finish()) got.push(sha256(chunk))
    assert.deepEqual(got, expected)
  })

  it('accepts Buffers, empty pieces and an empty stream', () => {
    const data = randomBytes(MiB)
    const chunker = createChunker()
    const fromBuffers = chunkAll(chunker, [new Uint8Array(0), Buffer.from(data), new Uint8Array(0)])
    assert.deepEqual(fromBuffers.map(sha256), chunkAll(createChunker(), [data]).map(sha256))
    assert.deepEqual(chunkAll(createChunker(), []), [])
    assert.deepEqual(chunkAll(createChunker(), [new Uint8Array(0)]), [])
  })

  it('can be reused for the next stream after finish', () => {
    const a = randomBytes(300_000)
    const b = randomBytes(500_000)
    const chunker = createChunker()
    chunkAll(chunker, [a])
    assert.deepEqual(chunkAll(chunker, [b]).map(sha256), chunkAll(createChunker(), [b]).map(sha256))
  })

  it('shares at least 95% of chunks after a one-byte insert in the middle of 64 MiB', () => {
    const data = randomBytes(64 * MiB)
    const middle = 32 * MiB + 12345
    const edited = new Uint8Array(data.length + 1)
    edited.set(data.subarray(0, middle))
    edited[middle] = 0x5a
    edited.set(data.subarray(middle), middle + 1)
    const before = new Set(chunkAll(createChunker(), [data]).map(sha256))
    const after = chunkAll(createChunker(), [edited]).map(sha256)
    const shared = after.filter((h) => before.has(h)).length
    assert.ok(shared / after.length >= 0.95, `${shared} of ${after.length} chunks shared`)
    assert.ok(after.length - shared <= 3, `${after.length - shared} chunks changed by a one-byte insert`)
  })

  it('cuts long zero runs into identical chunks, so they deduplicate', () => {
    const zeros = new Uint8Array(4 * MiB)
    const chunks = chunkAll(createChunker(), [zeros])
    assert.equal(new Set(chunks.slice(0, -1).map(sha256)).size, 1)
  })

  it('rejects sizes that are not ordered min < avg < max', () => {
    assert.throws(() => createChunker({ minSize: 4096, avgSize: 4096, maxSize: 8192 }), RangeError)
    assert.throws(() => createChunker({ minSize: 0 }), RangeError)
    assert.throws(() => createChunker({ maxSize: 1024 }), /min < avg < max/)
  })
})
