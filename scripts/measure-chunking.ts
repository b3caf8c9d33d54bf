/**
 * Chooses the chunker's default sizes by measurement (docs/chunking.md).
 *
 * A synthetic volume image: 256 MiB of random 4 KiB blocks with runs of zero blocks (free space).
 * Between two backups 0.5% of its 4 KiB blocks are rewritten at random. For several size choices,
 * including restic's (min 512 KiB / avg 1 MiB / max 8 MiB, cut by this FastCDC rather than
 * restic's Rabin chunker, which has the same size statistics), it counts what the incremental has
 * to store: chunks of the new image whose content the base does not already hold.
 *
 *   npx node scripts/measure-chunking.ts [--mib 256] [--seed 1]
 */
import { createHash } from 'node:crypto'
import { parseArgs } from 'node:util'
import { createChunker, DEFAULT_CHUNKING, FastCdc } from '../src/chunker/index.ts'
import type { ChunkerOptions } from '../src/chunker/index.ts'

const { values } = parseArgs({ options: { mib: { type: 'string', default: '256' }, seed: { type: 'string', default: '1' } } })
const KiB = 1024
const MiB = 1024 * KiB
const BLOCK = 4 * KiB
const IMAGE = Number(values.mib) * MiB
const REWRITTEN = 0.005
const ZERO_FRACTION = 0.15
/** bytes per chunk reference in a file node: CID (36) + length + CBOR framing */
const FILE_NODE_ENTRY = 42

const CHOICES: Array<{ name: string, options: ChunkerOptions }> = [
  { name: '4K / 16K / 64K', options: { minSize: 4 * KiB, avgSize: 16 * KiB, maxSize: 64 * KiB } },
  { name: '8K / 32K / 128K', options: { minSize: 8 * KiB, avgSize: 32 * KiB, maxSize: 128 * KiB } },
  { name: '16K / 64K / 256K', options: { minSize: 16 * KiB, avgSize: 64 * KiB, maxSize: 256 * KiB } },
  { name: '32K / 128K / 512K', options: { minSize: 32 * KiB, avgSize: 128 * KiB, maxSize: 512 * KiB } },
  { name: '64K / 256K / 1020K', options: { minSize: 64 * KiB, avgSize: 256 * KiB, maxSize: 1020 * KiB } },
  { name: 'restic 512K / 1M / 8M', options: { minSize: 512 * KiB, avgSize: 1 * MiB, maxSize: 8 * MiB } }
]

/** A seeded xorshift128 stream, so every run measures the same image. */
function prng (seed: number): () => number {
  let a = seed ^ 0x9e3779b9; let b = 0x243f6a88; let c = 0xb7e15162; let d = 0x85a308d3
  return () => {
    const t = a ^ (a << 11)
    a = b; b = c; c = d
    d = (d ^ (d >>> 19) ^ t ^ (t >>> 8)) >>> 0
    return d
  }
}

function fillRandom (bytes: Uint8Array, next: () => number): void {
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2)
  for (let i = 0; i < words.length; i++) words[i] = next()
}

function makeImage (next: () => number): Uint8Array {
  const image = new Uint8Array(IMAGE)
  fillRandom(image, next)
  const blocks = IMAGE / BLOCK
  let zeroed = 0
  while (zeroed < blocks * ZERO_FRACTION) {
    const start = next() % blocks
    const run = 1 + (next() % 512)
    image.fill(0, start * BLOCK, Math.min(blocks, start + run) * BLOCK)
    zeroed += run
  }
  return image
}

function rewriteBlocks (image: Uint8Array, next: () => number): Uint8Array {
  const copy = image.slice()
  const blocks = IMAGE / BLOCK
  const picked = new Set<number>()
  while (picked.size < Math.round(blocks * REWRITTEN)) picked.add(next() % blocks)
  for (const block of picked) fillRandom(copy.subarray(block * BLOCK, (block + 1) * BLOCK), next)
  return copy
}

interface Chunked {
  hashes: Set<string>
  sizes: Map<string, number>
  count: number
  maxChunk: number
}

function chunk (options: ChunkerOptions, data: Uint8Array): Chunked {
  const chunker = new FastCdc(options)
  const hashes = new Set<string>()
  const sizes = new Map<string, number>()
  let count = 0
  let maxChunk = 0
  for (let offset = 0; offset < data.length; offset += MiB) {
    const chunks = [...chunker.push(data.subarray(offset, offset + MiB)), ...(offset + MiB >= data.length ? chunker.finish() : [])]
    for (const c of chunks) {
      const hash = createHash('sha256').update(c).digest('base64')
      hashes.add(hash)
      sizes.set(hash, c.length)
      count++
      maxChunk = Math.max(maxChunk, c.length)
    }
  }
  return { hashes, sizes, count, maxChunk }
}

const next = prng(Number(values.seed))
const base = makeImage(next)
const incremental = rewriteBlocks(base, next)

const rows = CHOICES.map(({ name, options }) => {
  const before = chunk(options, base)
  const after = chunk(options, incremental)
  let newChunks = 0
  let newBytes = 0
  for (const hash of after.hashes) {
    if (before.hashes.has(hash)) continue
    newChunks++
    newBytes += after.sizes.get(hash)!
  }
  return { name, before, after, newChunks, newBytes }
})
const restic = rows.at(-1)!

const fmt = (bytes: number): string => bytes >= MiB ? `${(bytes / MiB).toFixed(1)} MiB` : `${(bytes / KiB).toFixed(0)} KiB`
console.log(`image ${IMAGE / MiB} MiB (${(ZERO_FRACTION * 100).toFixed(0)}% zero blocks in runs), ${(REWRITTEN * 100).toFixed(1)}% of its 4 KiB blocks rewritten (${Math.round(IMAGE / BLOCK * REWRITTEN)} blocks, ${fmt(Math.round(IMAGE / BLOCK * REWRITTEN) * BLOCK)}), seed ${values.seed}\n`)
console.log('| min / avg / max | chunks in image | mean chunk | largest | incremental: new chunks | new bytes | vs restic | file-node bytes |')
console.log('|---|---:|---:|---:|---:|---:|---:|---:|')
for (const row of rows) {
  const mean = IMAGE / row.before.count
  console.log(`| ${row.name} | ${row.before.count} | ${fmt(mean)} | ${fmt(row.before.maxChunk)} | ${row.newChunks} | ${fmt(row.newBytes)} | ${(100 * row.newBytes / restic.newBytes).toFixed(1)}% | ${fmt(row.before.count * FILE_NODE_ENTRY)} |`)
}

// Throughput of the default sizes on the same image, fed in 1 MiB pieces as a backup reads it.
// CPU time is reported too: on a shared machine it moves less than wall time.
let best = 0
let bestCpu = 0
for (let round = 0; round < 3; round++) {
  const chunker = createChunker()
  const started = performance.now()
  const cpuStarted = process.cpuUsage()
  for (let offset = 0; offset < IMAGE; offset += MiB) chunker.push(base.subarray(offset, offset + MiB))
  chunker.finish()
  const cpu = process.cpuUsage(cpuStarted)
  best = Math.max(best, IMAGE / 1e6 / ((performance.now() - started) / 1000))
  bestCpu = Math.max(bestCpu, IMAGE / 1e6 / ((cpu.user + cpu.system) / 1e6))
}
console.log(`\nchunker throughput, default sizes (${DEFAULT_CHUNKING.minSize / KiB}K / ${DEFAULT_CHUNKING.avgSize / KiB}K / ${DEFAULT_CHUNKING.maxSize / KiB}K), 1 MiB pushes, best of 3: ${best.toFixed(0)} MB/s wall, ${bestCpu.toFixed(0)} MB per CPU second`)
