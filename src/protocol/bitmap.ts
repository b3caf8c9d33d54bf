/**
 * The bitmaps of `have-reply` and `want-done`: bit i answers the i-th CID asked about; bits are
 * taken least significant first within each byte (bit i is `(bitmap[i >> 3] >> (i & 7)) & 1`).
 * 16,384 CIDs cost 2 KiB of reply.
 */

/** A bitmap of `count` bits with the bits of `indexes` set. */
export function bitmapOf (count: number, indexes: Iterable<number>): Uint8Array {
  const bitmap = new Uint8Array(Math.ceil(count / 8))
  for (const i of indexes) {
    if (!Number.isInteger(i) || i < 0 || i >= count) throw new RangeError(`bit ${i} is outside a bitmap of ${count} bits`)
    bitmap[i >> 3] |= 1 << (i & 7)
  }
  return bitmap
}

/** The indexes of the set bits, ascending. */
export function bitmapIndexes (bitmap: Uint8Array): number[] {
  const out: number[] = []
  for (let byte = 0; byte < bitmap.length; byte++) {
    const bits = bitmap[byte]
    if (bits === 0) continue
    for (let bit = 0; bit < 8; bit++) {
      if ((bits & (1 << bit)) !== 0) out.push(byte * 8 + bit)
    }
  }
  return out
}
