/**
 * A Bloom filter over block CIDs: the live set of a garbage collection (docs/retention.md,
 * "Garbage collection"). It never answers "no" for a CID that was added (no false negatives:
 * a live block is never taken for dead); it answers "yes" for a CID that was not added with a
 * probability near `falsePositiveRate` (a dead block taken for live is kept until the next
 * collection: it costs space, never data).
 *
 * The bit positions come from the CID's own digest: a sha2-256 digest is already uniform, so two
 * 32-bit words of it give the double hashing `h1 + i * h2` (Kirsch and Mitzenmacher) without
 * hashing again. A CID and one with the same digest under another codec share their positions:
 * one of them may be kept when it is dead, which is safe.
 */
export class BloomFilter {
  readonly bits: number
  readonly hashes: number
  readonly #words: Uint32Array

  /** A filter for about `expected` CIDs at `falsePositiveRate` (1e-4: 19.2 bits and 13 hashes per CID). */
  constructor (expected: number, falsePositiveRate = DEFAULT_FALSE_POSITIVE_RATE) {
    const n = Math.max(1, expected)
    const bits = Math.ceil(-n * Math.log(falsePositiveRate) / (Math.LN2 * Math.LN2))
    // at most 2^32 bits (512 MiB): about 220 million blocks at 1e-4; past that the rate rises
    this.bits = Math.min(2 ** 32, Math.max(1024, Math.ceil(bits / 32) * 32))
    this.hashes = Math.max(1, Math.round((this.bits / n) * Math.LN2))
    this.#words = new Uint32Array(this.bits / 32)
  }

  /** Bytes of memory the bits take. */
  get bytes (): number {
    return this.#words.byteLength
  }

  /** Adds a CID, given as its bytes (a CIDv1 ends with its digest). */
  add (cid: Uint8Array): void {
    const [h1, h2] = seeds(cid)
    for (let i = 0; i < this.hashes; i++) {
      const bit = (h1 + i * h2) % this.bits
      this.#words[bit >>> 5] |= 1 << (bit & 31)
    }
  }

  /** false: the CID was never added; true: it was, or it is a false positive. */
  has (cid: Uint8Array): boolean {
    const [h1, h2] = seeds(cid)
    for (let i = 0; i < this.hashes; i++) {
      const bit = (h1 + i * h2) % this.bits
      if ((this.#words[bit >>> 5] & (1 << (bit & 31))) === 0) return false
    }
    return true
  }
}

/** The live set's false-positive rate: one dead block in 10 000 is kept a collection longer. */
export const DEFAULT_FALSE_POSITIVE_RATE = 1e-4

/** Two 32-bit words from the end of the digest; the second made odd so the probe never repeats one bit. */
function seeds (cid: Uint8Array): [number, number] {
  const n = cid.length
  if (n < 8) throw new RangeError(`a CID of ${n} bytes is too short for the live set`)
  const h1 = (cid[n - 8] | (cid[n - 7] << 8) | (cid[n - 6] << 16) | (cid[n - 5] << 24)) >>> 0
  const h2 = ((cid[n - 4] | (cid[n - 3] << 8) | (cid[n - 2] << 16) | (cid[n - 1] << 24)) | 1) >>> 0
  return [h1, h2]
}
