/**
 * Blocks that take each branch of the store's body encoder (`encodeBody` in
 * src/store/block-codec.ts), at each size threshold: shorter than zstd's minimum (kept as is),
 * judged incompressible by the entropy sample (kept as is), compressed by zstd, and judged
 * compressible but not made smaller by zstd (kept as is, after the worker answered: the branch a
 * real backup of an ext4 image full of programs hit). `branchOf` asks the store's own functions
 * which branch a block takes, so a test proves its block really exercises the branch it names.
 */
import { createCipheriv, createHash } from 'node:crypto'
import { MAX_BLOCK_SIZE } from '../../src/points/constants.ts'
import { looksIncompressible } from '../../src/store/compression.ts'
import { zstd } from './helpers.ts'
import { MIN_COMPRESS_SIZE } from '../../src/store/constants.ts'

export type EncodingBranch = 'tiny' | 'looks incompressible' | 'compresses' | 'zstd not smaller'

export interface EncodingCase {
  name: string
  branch: EncodingBranch
  bytes: Uint8Array
}

/** The branch `encodeBody` takes for `bytes`, by the same tests it makes. */
export async function branchOf (bytes: Uint8Array): Promise<EncodingBranch> {
  if (bytes.length < MIN_COMPRESS_SIZE) return 'tiny'
  if (looksIncompressible(bytes)) return 'looks incompressible'
  return (await zstd(bytes)) === undefined ? 'zstd not smaller' : 'compresses'
}

/** Incompressible bytes that are the same on every run: an AES-CTR keystream of `seed`. */
export function seededRandom (length: number, seed: string): Uint8Array {
  const key = createHash('sha256').update(seed).digest()
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32))
  return new Uint8Array(cipher.update(Buffer.alloc(length)))
}

/** Log-like text: zstd shrinks it well, and it is not one phrase over and over. */
export function text (length: number): Uint8Array {
  const lines: string[] = []
  let size = 0
  for (let i = 0; size < length; i++) {
    const line = `${String(i).padStart(6, '0')} kernel: eth${i % 4}: link ${i % 3 === 0 ? 'up' : 'down'} at ${(i * 7919) % 10_000} Mbps\n`
    lines.push(line)
    size += line.length
  }
  return new TextEncoder().encode(lines.join('')).subarray(0, length)
}

/**
 * The smallest block the entropy sample judges at all: below it every block of
 * `MIN_COMPRESS_SIZE` bytes or more goes to zstd. Found by asking `looksIncompressible` about
 * random bytes (it is private to compression.ts), so the cases follow the code if it moves.
 */
export function samplingThreshold (): number {
  const random = seededRandom(MAX_BLOCK_SIZE, 'sampling threshold')
  let lo = MIN_COMPRESS_SIZE
  let hi = MAX_BLOCK_SIZE
  if (!looksIncompressible(random.subarray(0, hi))) throw new Error('random bytes of the block size limit do not look incompressible')
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (looksIncompressible(random.subarray(0, mid))) hi = mid
    else lo = mid + 1
  }
  return lo
}

/**
 * Random bytes, except that the eight 512-byte slices the entropy sample reads (spread evenly
 * over the block, as in compression.ts) hold 7-bit values: the sample sees about 7 bits per
 * byte, under the 7.8 limit, so zstd is asked, and finds too little to gain on the whole block.
 * `branchOf` checks that this still holds.
 */
export function sampledLowRandom (length: number, seed: string): Uint8Array {
  const bytes = seededRandom(length, seed)
  const slices = 8
  const slice = 512
  const step = Math.floor((length - slice) / (slices - 1))
  for (let s = 0; s < slices; s++) {
    for (let i = s * step; i < s * step + slice; i++) bytes[i] &= 0x7f
  }
  return bytes
}

const KiB = 1024

/** One block per branch at each threshold, from empty to exactly the block size limit. */
export function encodingCases (): EncodingCase[] {
  const threshold = samplingThreshold()
  const random = (n: number): Uint8Array => seededRandom(n, `case ${n}`)
  return [
    { name: 'an empty block', branch: 'tiny', bytes: new Uint8Array(0) },
    { name: '1 random byte', branch: 'tiny', bytes: random(1) },
    { name: `${MIN_COMPRESS_SIZE - 1} random bytes (one below zstd's minimum)`, branch: 'tiny', bytes: random(MIN_COMPRESS_SIZE - 1) },
    { name: `${MIN_COMPRESS_SIZE - 1} zero bytes (compressible, but below zstd's minimum)`, branch: 'tiny', bytes: new Uint8Array(MIN_COMPRESS_SIZE - 1) },
    { name: `${MIN_COMPRESS_SIZE} random bytes (zstd's minimum)`, branch: 'zstd not smaller', bytes: random(MIN_COMPRESS_SIZE) },
    { name: `${MIN_COMPRESS_SIZE} zero bytes (zstd's minimum)`, branch: 'compresses', bytes: new Uint8Array(MIN_COMPRESS_SIZE) },
    { name: `${MIN_COMPRESS_SIZE + 1} random bytes (one above zstd's minimum)`, branch: 'zstd not smaller', bytes: random(MIN_COMPRESS_SIZE + 1) },
    { name: `${threshold - 1} random bytes (one below the entropy sample's minimum)`, branch: 'zstd not smaller', bytes: random(threshold - 1) },
    { name: `${threshold - 1} bytes of text (one below the entropy sample's minimum)`, branch: 'compresses', bytes: text(threshold - 1) },
    { name: `${threshold} random bytes (the entropy sample's minimum)`, branch: 'looks incompressible', bytes: random(threshold) },
    { name: `${threshold} bytes of text (the entropy sample's minimum)`, branch: 'compresses', bytes: text(threshold) },
    { name: `${threshold} random bytes whose sampled slices are 7-bit (the entropy sample's minimum)`, branch: 'zstd not smaller', bytes: sampledLowRandom(threshold, 'low') },
    { name: `${threshold + 1} random bytes (one above the entropy sample's minimum)`, branch: 'looks incompressible', bytes: random(threshold + 1) },
    { name: `${threshold + 1} random bytes whose sampled slices are 7-bit`, branch: 'zstd not smaller', bytes: sampledLowRandom(threshold + 1, 'low') },
    { name: '64 KiB of random bytes', branch: 'looks incompressible', bytes: random(64 * KiB) },
    { name: '64 KiB of text', branch: 'compresses', bytes: text(64 * KiB) },
    { name: '64 KiB of random bytes whose sampled slices are 7-bit', branch: 'zstd not smaller', bytes: sampledLowRandom(64 * KiB, 'low') },
    { name: `${MAX_BLOCK_SIZE - 1} random bytes (one below the block size limit)`, branch: 'looks incompressible', bytes: random(MAX_BLOCK_SIZE - 1) },
    { name: `${MAX_BLOCK_SIZE} random bytes (the block size limit)`, branch: 'looks incompressible', bytes: random(MAX_BLOCK_SIZE) },
    { name: `${MAX_BLOCK_SIZE} bytes of text (the block size limit)`, branch: 'compresses', bytes: text(MAX_BLOCK_SIZE) },
    { name: `${MAX_BLOCK_SIZE} random bytes whose sampled slices are 7-bit (the block size limit)`, branch: 'zstd not smaller', bytes: sampledLowRandom(MAX_BLOCK_SIZE, 'low') }
  ]
}
