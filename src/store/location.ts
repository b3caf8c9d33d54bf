import { varint } from 'multiformats'
import { MalformedError } from '../errors.ts'

/**
 * Where a block lives: the value of its entry in the `blocks` index (docs/formats.md, "Block
 * index"). Encoded as `[u8 flags][varint pack][varint offset][varint storedLength][varint
 * rawLength]`: 7 to 15 bytes per block.
 */
export interface BlockLocation {
  /** the record flags (FLAG_ZSTD) */
  flags: number
  pack: number
  /** position of the record body in the pack file */
  offset: number
  /** body length in the pack */
  storedLength: number
  /** length of the block itself */
  rawLength: number
}

export function encodeLocation (location: BlockLocation): Uint8Array {
  const { flags, pack, offset, storedLength, rawLength } = location
  const out = new Uint8Array(1 + varint.encodingLength(pack) + varint.encodingLength(offset) +
    varint.encodingLength(storedLength) + varint.encodingLength(rawLength))
  out[0] = flags
  let pos = 1
  for (const n of [pack, offset, storedLength, rawLength]) {
    varint.encodeTo(n, out, pos)
    pos += varint.encodingLength(n)
  }
  return out
}

export function decodeLocation (bytes: Uint8Array): BlockLocation {
  try {
    let pos = 1
    const next = (): number => {
      const [n, length] = varint.decode(bytes, pos)
      pos += length
      return n
    }
    const location = { flags: bytes[0], pack: next(), offset: next(), storedLength: next(), rawLength: next() }
    if (bytes.length === 0 || pos !== bytes.length) throw new RangeError('length mismatch')
    return location
  } catch {
    throw new MalformedError(`block index entry of ${bytes.length} bytes does not decode as a block location`)
  }
}
