/**
 * Pack file layout (docs/formats.md, "Pack files"):
 *
 *   header   8 bytes: "drcPACK" (ASCII) then the format version (1)
 *   records  [u32 BE length][u8 flags][u8 cid length][cid bytes][body], repeated
 *
 * `length` counts the bytes after the length field (flags through body). `body` is the block,
 * zstd-compressed when `flags & FLAG_ZSTD`. Every record carries its CID, so the index can be
 * rebuilt from the packs alone.
 */
export const PACK_MAGIC = new TextEncoder().encode('drcPACK')
export const PACK_VERSION = 1
export const PACK_HEADER = Uint8Array.from([...PACK_MAGIC, PACK_VERSION])
export const PACK_HEADER_SIZE = PACK_HEADER.length

/** The body is a zstd frame; without it the body is the block itself. */
export const FLAG_ZSTD = 0x01
/** Every record flag this format defines. */
export const KNOWN_FLAGS = FLAG_ZSTD

/** Bytes before the CID: length, flags, CID length. */
const FIXED_HEADER = 6
/** The longest CID a record may carry (a CIDv1 sha2-256 is 36 bytes). */
const MAX_CID_LENGTH = 255

export function recordHeaderLength (cidLength: number): number {
  return FIXED_HEADER + cidLength
}

/** Writes a record header at `offset` of `target`; returns the offset after it. */
export function encodeRecordHeader (target: Uint8Array, offset: number, flags: number, cid: Uint8Array, bodyLength: number): number {
  if (cid.length > MAX_CID_LENGTH) throw new RangeError(`CID of ${cid.length} bytes does not fit a pack record`)
  const length = 2 + cid.length + bodyLength
  if (length > 0xffffffff) throw new RangeError(`block body of ${bodyLength} bytes does not fit a pack record`)
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength)
  view.setUint32(offset, length)
  target[offset + 4] = flags
  target[offset + 5] = cid.length
  target.set(cid, offset + FIXED_HEADER)
  return offset + FIXED_HEADER + cid.length
}

/** A record found in a pack; offsets are absolute positions in the pack file. */
export interface PackRecord {
  flags: number
  cid: Uint8Array
  /** position of the record's first byte (its length field) */
  start: number
  bodyOffset: number
  body: Uint8Array
  /** position after the record */
  end: number
}

export type ParseResult =
  | { record: PackRecord }
  /** `buf` ends inside the record; `need` is its total length when known */
  | { short: true, need: number }
  | { malformed: string }

/**
 * Parses the record at `pos` of `buf`, where `buf[0]` is at pack position `base`. `limit` is the
 * pack position records must end by (the committed length).
 */
export function parseRecord (buf: Uint8Array, pos: number, base: number, limit: number): ParseResult {
  const start = base + pos
  if (buf.length - pos < FIXED_HEADER) return { short: true, need: FIXED_HEADER }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const length = view.getUint32(pos)
  const flags = buf[pos + 4]
  const cidLength = buf[pos + 5]
  const total = 4 + length
  if (cidLength === 0 || length < 2 + cidLength) return { malformed: `record at offset ${start} has length ${length}, too short for its ${cidLength}-byte CID` }
  if ((flags & ~KNOWN_FLAGS) !== 0) return { malformed: `record at offset ${start} has unknown flags 0x${flags.toString(16)}` }
  if (start + total > limit) return { malformed: `record at offset ${start} of ${total} bytes runs past the end of the pack at ${limit}` }
  if (buf.length - pos < total) return { short: true, need: total }
  const bodyStart = pos + FIXED_HEADER + cidLength
  return {
    record: {
      flags,
      cid: buf.subarray(pos + FIXED_HEADER, bodyStart),
      start,
      bodyOffset: base + bodyStart,
      body: buf.subarray(bodyStart, pos + total),
      end: start + total
    }
  }
}

/** Why `header` is not a pack header this version reads, or undefined when it is. */
export function checkPackHeader (header: Uint8Array): string | undefined {
  if (header.length < PACK_HEADER_SIZE) return `it is ${header.length} bytes long, shorter than the ${PACK_HEADER_SIZE}-byte header`
  for (let i = 0; i < PACK_MAGIC.length; i++) {
    if (header[i] !== PACK_MAGIC[i]) return 'it does not start with the pack magic "drcPACK"'
  }
  const version = header[PACK_MAGIC.length]
  if (version !== PACK_VERSION) return `its format version is ${version}, this drcore reads version ${PACK_VERSION}`
  return undefined
}

const PACK_NAME = /^(\d{8})\.pack$/

export function packFileName (pack: number): string {
  return `${String(pack).padStart(8, '0')}.pack`
}

/** The pack number of a file name, or undefined when it is not a pack file. */
export function parsePackFileName (name: string): number | undefined {
  const match = PACK_NAME.exec(name)
  return match == null ? undefined : Number(match[1])
}
