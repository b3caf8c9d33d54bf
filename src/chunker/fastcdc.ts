import { GEAR } from './gear.ts'
import type { Chunker, ChunkerOptions } from './api.ts'

/**
 * FastCDC (Xia et al., USENIX ATC 2016) with a 32-bit gear hash and normalized chunking:
 *
 * - the first `minSize` bytes of a chunk are skipped without hashing (a cut there is not allowed
 *   anyway), which is where most of FastCDC's speed comes from;
 * - from `minSize` to `avgSize` a boundary needs `log2(avgSize) + 2` zero bits (hard), from
 *   `avgSize` to `maxSize` only `log2(avgSize) - 2` (easy), which pulls chunk sizes towards the
 *   average ("normalization level 2");
 * - a chunk is cut at `maxSize` when no boundary was found.
 *
 * The gear hash shifts left one bit per byte, so bit k depends on the last k + 1 bytes; the masks
 * test the top bits, which depend on the last 32 bytes. A boundary therefore depends only on the
 * bytes since the chunk start, and an edit moves at most the boundaries until the first cut point
 * after it that still lands in the same place.
 *
 * `push()` keeps no reference to its argument once it returns: chunks that lie inside one pushed
 * piece are returned as subarrays of it (no copy), and the tail of a piece that begins a chunk is
 * copied into a scratch buffer until the chunk completes.
 */
export class FastCdc implements Chunker {
  readonly #minSize: number
  readonly #avgSize: number
  readonly #maxSize: number
  readonly #maskS: number
  readonly #maskL: number
  /** gear hash of the current chunk's bytes from `minSize` on */
  #hash = 0
  /** bytes of the current chunk already seen (held in `#held` or ahead of the scan position) */
  #length = 0
  /** the current chunk's bytes from earlier pieces */
  #held: Uint8Array | undefined
  #heldLength = 0

  constructor (options: ChunkerOptions) {
    validate(options)
    this.#minSize = options.minSize
    this.#avgSize = options.avgSize
    this.#maxSize = options.maxSize
    const bits = Math.round(Math.log2(options.avgSize))
    this.#maskS = topBits(bits + 2)
    this.#maskL = topBits(bits - 2)
  }

  push (data: Uint8Array): Uint8Array[] {
    // A Buffer (or other subclass) would make the scan loop's element loads polymorphic.
    const input = data.constructor === Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    const chunks: Uint8Array[] = []
    let start = 0
    while (start < input.length) {
      const cut = this.#scan(input, start)
      if (cut < 0) {
        this.#hold(input, start)
        break
      }
      chunks.push(this.#take(input, start, cut))
      start = cut
    }
    return chunks
  }

  finish (): Uint8Array[] {
    const length = this.#heldLength
    const last = length > 0 ? this.#held!.slice(0, length) : undefined
    this.#heldLength = 0
    this.#length = 0
    this.#hash = 0
    return last === undefined ? [] : [last]
  }

  /**
   * Scans `buf` from `from` (where the current chunk continues) for the end of the current chunk.
   * Returns the index just past the cut, or -1 when `buf` ends first (the hash and length are
   * saved to resume with the next piece).
   */
  #scan (buf: Uint8Array, from: number): number {
    const minSize = this.#minSize
    const avgSize = this.#avgSize
    const maxSize = this.#maxSize
    const end = buf.length
    // `base + i` is the chunk length once byte i has been taken in
    const base = this.#length - from
    let i = from
    if (base + i < minSize) {
      i = Math.min(end, minSize - base)
      if (base + i < minSize) {
        this.#length = base + i
        return -1
      }
    }
    let h = this.#hash
    if (base + i < avgSize) {
      const maskS = this.#maskS
      const stop = Math.min(end, avgSize - base)
      for (; i < stop; i++) {
        h = ((h << 1) + GEAR[buf[i]]) | 0
        if ((h & maskS) === 0) return this.#cut(i + 1)
      }
    }
    const maskL = this.#maskL
    const stop = Math.min(end, maxSize - base)
    for (; i < stop; i++) {
      h = ((h << 1) + GEAR[buf[i]]) | 0
      if ((h & maskL) === 0) return this.#cut(i + 1)
    }
    if (base + i === maxSize) return this.#cut(i)
    this.#hash = h
    this.#length = base + i
    return -1
  }

  #cut (index: number): number {
    this.#hash = 0
    this.#length = 0
    return index
  }

  #hold (input: Uint8Array, start: number): void {
    this.#held ??= new Uint8Array(this.#maxSize)
    this.#held.set(input.subarray(start), this.#heldLength)
    this.#heldLength += input.length - start
  }

  #take (input: Uint8Array, start: number, cut: number): Uint8Array {
    const held = this.#heldLength
    if (held === 0) return input.subarray(start, cut)
    const chunk = new Uint8Array(held + cut - start)
    chunk.set(this.#held!.subarray(0, held))
    chunk.set(input.subarray(start, cut), held)
    this.#heldLength = 0
    return chunk
  }
}

/** A mask of the top `n` bits of a 32-bit word, as a signed 32-bit integer. */
function topBits (n: number): number {
  return (~0 << (32 - n)) | 0
}

function validate ({ minSize, avgSize, maxSize }: ChunkerOptions): void {
  for (const [name, value] of Object.entries({ minSize, avgSize, maxSize })) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`chunker ${name} must be a positive integer, got ${value}`)
    }
  }
  if (!(minSize < avgSize && avgSize < maxSize)) {
    throw new RangeError(`chunker sizes must satisfy min < avg < max, got ${minSize} / ${avgSize} / ${maxSize}`)
  }
  if (avgSize < 256 || avgSize > 2 ** 28) {
    throw new RangeError(`chunker avgSize must be between 256 bytes and 256 MiB, got ${avgSize}`)
  }
}
