import { availableParallelism } from 'node:os'
import { promisify } from 'node:util'
import { zstdDecompress, zstdDecompressSync } from 'node:zlib'
import { ZSTD_LEVEL } from './constants.ts'
import { EncodePool, POOL_SIZE } from './encode-pool.ts'
import type { EncoderCounts, Reservation } from './encode-pool.ts'

const decompress = promisify(zstdDecompress)

/**
 * Blocks up to this size are decompressed on the calling thread. A job on the libuv pool costs
 * the calling thread about 100 µs whatever its size (a handle, a queued job, a callback), where
 * zstd decompresses a 16 KiB block in about 10 µs: sending the 48k small blocks of a tree of
 * files spent 5 s of the sender's main thread in that overhead (docs/benchmarks.md, run K).
 */
const SYNC_BELOW = 128 * 1024

/**
 * Decompression jobs run on the libuv thread pool, which file I/O and LevelDB share. Measured here, 64
 * one-shot jobs in flight at once run about ten times slower than 2 to 4 (each sets up its own
 * context and they trample each other), and a full pool stalls pack writes. So at most one job
 * per core runs; the rest wait their turn.
 */
const MAX_JOBS = Math.max(1, Math.min(4, availableParallelism()))
let running = 0
const waiting: Array<() => void> = []

async function limited<T> (job: () => Promise<T>): Promise<T> {
  if (running >= MAX_JOBS) await new Promise<void>((resolve) => waiting.push(resolve))
  running++
  try {
    return await job()
  } finally {
    running--
    waiting.shift()?.()
  }
}

const pool = new EncodePool(POOL_SIZE, ZSTD_LEVEL)

/** Undefined, or a promise to await before giving the encoder more (it is behind). */
export function encodeBackpressure (): Promise<void> | undefined {
  return pool.ready()
}

/** Blocks encoded and stored bodies proved by this process's encoder so far. */
export function encoderCounts (): EncoderCounts {
  return pool.counts
}

/** Copies `bytes` into the encoder's next batch (see `EncodePool.reserve`). */
export function reserveEncoding (bytes: Uint8Array): Reservation {
  return pool.reserve(bytes)
}

/** The content of a zstd frame, at most `maxLength` bytes (longer content is an error). */
export async function unzstd (frame: Uint8Array, maxLength: number): Promise<Buffer> {
  if (maxLength <= SYNC_BELOW) return zstdDecompressSync(frame, { maxOutputLength: maxLength, chunkSize: Math.max(maxLength, 64) })
  return await limited(async () => await decompress(frame, { maxOutputLength: maxLength, chunkSize: Math.min(maxLength, 4 * 1024 * 1024) }))
}

/** Sampled bytes, entropy above which a block is stored without trying zstd. */
const SAMPLE_SLICES = 8
const SLICE_BYTES = 512
const INCOMPRESSIBLE_BITS_PER_BYTE = 7.8

/**
 * Whether `bytes` look like random, encrypted or already-compressed data, judged from the byte
 * entropy of a 4 KiB sample spread over the block (about 5 µs). zstd would spend hundreds of
 * microseconds per 64 KiB to gain under 3% on such data (borg's "auto" mode makes the same
 * trade with lz4 as its probe). A block of one random stretch repeated would be misjudged; that
 * costs space, never correctness.
 */
export function looksIncompressible (bytes: Uint8Array): boolean {
  if (bytes.length < SAMPLE_SLICES * SLICE_BYTES * 2) return false
  const counts = new Uint32Array(256)
  const step = Math.floor((bytes.length - SLICE_BYTES) / (SAMPLE_SLICES - 1))
  for (let s = 0; s < SAMPLE_SLICES; s++) {
    const start = s * step
    for (let i = start; i < start + SLICE_BYTES; i++) counts[bytes[i]]++
  }
  const total = SAMPLE_SLICES * SLICE_BYTES
  let entropy = 0
  for (let b = 0; b < 256; b++) {
    const n = counts[b]
    if (n !== 0) entropy -= n * Math.log2(n / total)
  }
  return entropy / total > INCOMPRESSIBLE_BITS_PER_BYTE
}
