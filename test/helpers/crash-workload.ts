/**
 * Seeded random workloads for the crash-cycle test: a PRNG, a bounded universe of blocks (real
 * files, slices of them repeated, zeros, random bytes, mixtures; sizes around every threshold of
 * the block codec), and plans of concurrent block writers.
 */
import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export class Random {
  #state: number

  constructor (seed: number) {
    this.#state = seed >>> 0
  }

  /** in [0, 1) */
  next (): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0
    let t = this.#state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** an integer in [lo, hi] */
  int (lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }

  chance (p: number): boolean {
    return this.next() < p
  }

  pick<T> (items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]
  }

  /** picks by weight: `[[item, weight], ...]` */
  weighted<T> (items: ReadonlyArray<readonly [T, number]>): T {
    const total = items.reduce((sum, [, w]) => sum + w, 0)
    let r = this.next() * total
    for (const [item, weight] of items) {
      r -= weight
      if (r < 0) return item
    }
    return items[items.length - 1][0]
  }

  /** A function for APIs that take `() => number`. */
  get source (): () => number {
    return () => this.next()
  }
}

export type BlockKind = 'real' | 'tiny' | 'repeat' | 'zeros' | 'random' | 'mixed'

/** A block of the universe: the same spec always gives the same bytes (on the same machine). */
export interface BlockSpec {
  kind: BlockKind
  variant: number
  size: number
}

export interface TestBlock {
  spec: BlockSpec
  cid: CID
  bytes: Uint8Array
}

/**
 * Sizes around the codec's thresholds: 64 (shorter is stored as is), 8192 (smaller is never
 * judged incompressible by sampling), 4 KiB pages, up to 100 KB.
 */
const SIZES: ReadonlyArray<readonly [number, number]> = [
  [1, 1], [63, 1], [64, 1], [65, 1], [700, 2], [4095, 1], [4096, 3], [8191, 2], [8192, 2], [8193, 1],
  [16_384, 3], [30_000, 2], [65_536, 2], [100_000, 1]
]
const KINDS: ReadonlyArray<readonly [BlockKind, number]> = [
  ['real', 45], ['tiny', 8], ['repeat', 14], ['zeros', 4], ['random', 17], ['mixed', 12]
]
/** variants per kind: bounds how many distinct blocks (and pack bytes) a long run makes */
const VARIANTS: Record<BlockKind, number> = { real: 384, tiny: 256, repeat: 64, zeros: 1, random: 128, mixed: 64 }

export class BlockUniverse {
  readonly #corpus: Buffer

  constructor (corpus: Buffer) {
    this.#corpus = corpus
  }

  pick (random: Random): BlockSpec {
    const kind = random.weighted(KINDS)
    const size = kind === 'tiny' ? random.int(1, 63) : random.weighted(SIZES)
    return { kind, variant: random.int(0, VARIANTS[kind] - 1), size }
  }

  block (spec: BlockSpec): TestBlock {
    const bytes = this.bytes(spec)
    return { spec, bytes, cid: CID.createV1(raw.code, createDigest(0x12, createHash('sha256').update(bytes).digest())) }
  }

  bytes ({ kind, variant, size }: BlockSpec): Uint8Array {
    switch (kind) {
      case 'real':
      case 'tiny':
        return this.#real(variant * 21_011, size)
      case 'repeat': {
        const phrase = this.#real(variant * 7_919, 16 + (variant * 37) % 300)
        const out = new Uint8Array(size)
        for (let i = 0; i < size; i += phrase.length) out.set(phrase.subarray(0, size - i), i)
        return out
      }
      case 'zeros':
        return new Uint8Array(size)
      case 'random':
        return noise(variant, size)
      case 'mixed': {
        const out = new Uint8Array(size)
        const half = size >> 1
        out.set(this.#real(variant * 48_271, half))
        out.set(noise(variant + 1_000_000, size - half), half)
        return out
      }
    }
  }

  /** a view of the corpus (never written, so the store may keep it until it copies) */
  #real (seed: number, size: number): Uint8Array {
    const start = seed % Math.max(1, this.#corpus.length - size)
    return new Uint8Array(this.#corpus.buffer, this.#corpus.byteOffset + start, Math.min(size, this.#corpus.length))
  }
}

/** Incompressible bytes from a seed (xorshift32). */
function noise (seed: number, size: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(size / 4))
  let x = (seed * 2_654_435_761) >>> 0 || 1
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    words[i] = x
  }
  return new Uint8Array(words.buffer, 0, size)
}

export type WriterEnd = 'commit-point' | 'commit' | 'abort' | 'leave-open'

/** What one block writer of a cycle does. */
export interface WriterPlan {
  name: string
  blocks: TestBlock[]
  /** after which puts to call `flush()` */
  flushAfter: Set<number>
  end: WriterEnd
}

/** Rounds of writers; the writers of a round run at once. */
export function planWorkload (random: Random, universe: BlockUniverse, cycle: number): WriterPlan[][] {
  const rounds: WriterPlan[][] = []
  for (let r = random.int(1, 3); r > 0; r--) {
    const round: WriterPlan[] = []
    for (let w = random.int(1, 4); w > 0; w--) {
      const count = random.int(1, 40)
      const blocks: TestBlock[] = []
      for (let i = 0; i < count; i++) {
        // now and then the same block twice in one writer
        blocks.push(i > 0 && random.chance(0.05) ? random.pick(blocks) : universe.block(universe.pick(random)))
      }
      const flushAfter = new Set<number>()
      for (let i = 0; i < count; i++) if (random.chance(0.04)) flushAfter.add(i)
      const end = random.weighted<WriterEnd>([['commit-point', 70], ['commit', 10], ['abort', 15], ['leave-open', 5]])
      round.push({ name: `c${cycle}.${rounds.length}.${round.length}`, blocks, flushAfter, end })
    }
    rounds.push(round)
  }
  return rounds
}
