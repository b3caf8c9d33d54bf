/**
 * Encoding and decoding of frames, the wire format shared by every drcore protocol
 * (docs/protocol.md).
 *
 * A stream carries frames: `uvarint(length) | body`, 1 <= length <= MAX_FRAME_SIZE. A body is
 *   - a message: a dag-cbor map with a string `type` (first byte 0xa0–0xbb, a CBOR map head),
 *     checked field by field against the catalogue in messages.ts; or
 *   - a block: `CID | bytes`, exactly the body of a CAR section (first byte 0x01, the version of
 *     a CIDv1); or
 *   - a stored block (version 2 protocols): `0x02 | u8 flags | uvarint rawLength | CID | body`,
 *     the block as the sender's store holds it (a zstd frame when `flags & 1`).
 * The first byte tells the two apart, so a reader decodes any frame without context, and a run
 * of block frames is byte for byte a run of CAR sections.
 *
 * Decoders throw nothing but `MalformedError`, naming what is wrong with the bytes.
 */
import { createHash } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { CorruptBlockError, MalformedError } from '../errors.ts'
import { MAX_BLOCK_SIZE, MAX_FRAME_SIZE } from './constants.ts'
import type { BlockFrame, Frame, Message, StoredBlockFrame } from './messages.ts'
import { isBlockCid, validateMessage } from './schema.ts'

/** The first byte of a block frame's body (the version of a CIDv1); a message starts with a CBOR map head. */
export const BLOCK_FRAME_MARKER = 0x01

/** The first byte of a stored-block frame's body (version 2 protocols). */
export const STORED_BLOCK_FRAME_MARKER = 0x02
/** Stored-block flag: the body is a zstd frame (the store's FLAG_ZSTD). */
export const STORED_ZSTD = 0x01
/** A block's length never needs more than 3 varint bytes (MAX_BLOCK_SIZE < 2^21). */
const MAX_RAW_LENGTH_BYTES = 3

/** A frame length never needs more than 4 varint bytes (MAX_FRAME_SIZE < 2^28). */
const MAX_HEADER_BYTES = 4

/**
 * A message as a complete frame (length prefix included). The message is validated first, so a
 * Core never sends what its peer would reject; a failure here is a bug in the caller.
 */
export function encodeMessageFrame (message: Message): Uint8Array {
  const body = dagCbor.encode(validateMessage(message))
  const header = encodeFrameHeader(body.length, message.type)
  const frame = new Uint8Array(header.length + body.length)
  frame.set(header)
  frame.set(body, header.length)
  return frame
}

/**
 * A block as a frame, in three parts (header, CID, bytes) so the block's bytes are never copied.
 * The caller vouches that `bytes` hash to `cid`; the receiver checks it again.
 */
export function encodeBlockFrame (cid: CID, bytes: Uint8Array): Uint8Array[] {
  if (!isBlockCid(cid)) throw new MalformedError(`block ${cid} cannot be sent: drcore sends only CIDv1 sha2-256 raw or dag-cbor blocks`)
  if (bytes.length > MAX_BLOCK_SIZE) throw new MalformedError(`block ${cid} is ${bytes.length} bytes, over the ${MAX_BLOCK_SIZE}-byte limit`)
  return [encodeFrameHeader(cid.bytes.length + bytes.length, `block ${cid}`), cid.bytes, bytes]
}

/** A block in its stored form, as `encodeStoredBlockFrame` takes it. */
export interface StoredBody {
  flags: number
  body: Uint8Array
  rawLength: number
}

/**
 * A block in its stored form as a frame, in parts (header, prefix, CID, body) so the body is
 * never copied. The receiver proves it before it counts; the sender vouches for nothing more
 * than that it is what its store holds.
 */
export function encodeStoredBlockFrame (cid: CID, stored: StoredBody): Uint8Array[] {
  if (!isBlockCid(cid)) throw new MalformedError(`block ${cid} cannot be sent: drcore sends only CIDv1 sha2-256 raw or dag-cbor blocks`)
  checkStoredShape(cid, stored.flags, stored.rawLength, stored.body.length)
  const prefix = storedPrefix(stored.flags, stored.rawLength)
  return [encodeFrameHeader(prefix.length + cid.bytes.length + stored.body.length, `block ${cid}`), prefix, cid.bytes, stored.body]
}

/** Bytes a stored-block frame of `stored` takes on the wire, length prefix included. */
export function storedBlockFrameLength (cid: CID, stored: StoredBody): number {
  const body = 2 + varintLength(stored.rawLength) + cid.bytes.length + stored.body.length
  return varintLength(body) + body
}

function storedPrefix (flags: number, rawLength: number): Uint8Array {
  const prefix = new Uint8Array(2 + varintLength(rawLength))
  prefix[0] = STORED_BLOCK_FRAME_MARKER
  prefix[1] = flags
  let n = rawLength
  let i = 2
  while (n >= 0x80) {
    prefix[i++] = (n & 0x7f) | 0x80
    n >>>= 7
  }
  prefix[i] = n
  return prefix
}

function varintLength (n: number): number {
  let length = 1
  while (n >= 0x80) {
    n >>>= 7
    length++
  }
  return length
}

function checkStoredShape (cid: CID, flags: number, rawLength: number, bodyLength: number): void {
  if ((flags & ~STORED_ZSTD) !== 0) throw new MalformedError(`stored block ${cid} has unknown flags 0x${flags.toString(16)}`)
  if (rawLength > MAX_BLOCK_SIZE) throw new MalformedError(`stored block ${cid} states a length of ${rawLength} bytes, over the ${MAX_BLOCK_SIZE}-byte limit`)
  if ((flags & STORED_ZSTD) === 0 && bodyLength !== rawLength) throw new MalformedError(`stored block ${cid} is raw but its body is ${bodyLength} bytes where ${rawLength} are stated`)
}

function encodeFrameHeader (length: number, what: string): Uint8Array {
  if (length > MAX_FRAME_SIZE) throw new MalformedError(`${what} is ${length} bytes, over the ${MAX_FRAME_SIZE}-byte frame limit`)
  const header: number[] = []
  let n = length
  while (n >= 0x80) {
    header.push((n & 0x7f) | 0x80)
    n >>>= 7
  }
  header.push(n)
  return Uint8Array.from(header)
}

/**
 * Reads a frame header at `offset`. Returns the body length and the header's own length, or
 * `undefined` when `bytes` ends inside the header (more bytes are needed). Throws
 * `MalformedError` for an empty frame, an oversized one, or a non-minimal varint.
 */
export function decodeFrameHeader (bytes: Uint8Array, offset = 0): { length: number, headerLength: number } | undefined {
  let length = 0
  for (let i = 0; i < MAX_HEADER_BYTES; i++) {
    if (offset + i >= bytes.length) return undefined
    const byte = bytes[offset + i]
    length += (byte & 0x7f) * 2 ** (7 * i)
    if ((byte & 0x80) === 0) {
      if (byte === 0 && i > 0) throw new MalformedError('frame length is a non-minimal varint')
      if (length === 0) throw new MalformedError('empty frame (length 0)')
      if (length > MAX_FRAME_SIZE) throw new MalformedError(`frame of ${length} bytes exceeds the ${MAX_FRAME_SIZE}-byte limit`)
      return { length, headerLength: i + 1 }
    }
  }
  throw new MalformedError(`frame length exceeds the ${MAX_FRAME_SIZE}-byte limit (varint longer than ${MAX_HEADER_BYTES} bytes)`)
}

/** Decodes one frame body (without its length prefix) into a message or a block. */
export function decodeFrameBody (body: Uint8Array): Frame {
  if (body.length === 0) throw new MalformedError('empty frame (length 0)')
  const first = body[0]
  if (first === BLOCK_FRAME_MARKER) return decodeBlockBody(body)
  if (first === STORED_BLOCK_FRAME_MARKER) return decodeStoredBlockBody(body)
  if (isMessageBody(body)) return decodeMessageBody(body)
  throw new MalformedError(`frame starts with byte 0x${first.toString(16).padStart(2, '0')}: neither a message (a dag-cbor map) nor a block (a CIDv1) nor a stored block (0x02)`)
}

/** Whether a frame body is a message (a CBOR map head), not a block of either kind. */
export function isMessageBody (body: Uint8Array): boolean {
  return body.length > 0 && body[0] >= 0xa0 && body[0] <= 0xbb
}

function decodeMessageBody (body: Uint8Array): Message {
  let value: unknown
  try {
    value = dagCbor.decode(body)
  } catch (err: any) {
    // cborg recurses per nesting level: absurd nesting ends in a RangeError, which is still
    // just malformed input
    throw new MalformedError(`message is not valid dag-cbor: ${err instanceof RangeError ? 'nested too deeply' : err.message}`)
  }
  return validateMessage(value)
}

function decodeBlockBody (body: Uint8Array): BlockFrame {
  let cid: CID
  let bytes: Uint8Array
  try {
    [cid, bytes] = CID.decodeFirst(body)
  } catch (err: any) {
    throw new MalformedError(`block frame does not start with a valid CID: ${err.message}`)
  }
  if (!isBlockCid(cid)) throw new MalformedError(`block frame carries CID ${cid}: drcore accepts only CIDv1 sha2-256 raw or dag-cbor blocks`)
  if (bytes.length > MAX_BLOCK_SIZE) throw new MalformedError(`block ${cid} is ${bytes.length} bytes, over the ${MAX_BLOCK_SIZE}-byte limit`)
  return { type: 'block', cid, bytes }
}

function decodeStoredBlockBody (body: Uint8Array): StoredBlockFrame {
  if (body.length < 3) throw new MalformedError(`stored-block frame of ${body.length} bytes is too short for its flags and length`)
  const flags = body[1]
  let rawLength = 0
  let at = 2
  for (let i = 0; ; i++) {
    if (i === MAX_RAW_LENGTH_BYTES) throw new MalformedError(`stored-block frame states a block length past the ${MAX_BLOCK_SIZE}-byte limit (varint longer than ${MAX_RAW_LENGTH_BYTES} bytes)`)
    if (at >= body.length) throw new MalformedError('stored-block frame ends inside its block length')
    const byte = body[at++]
    rawLength += (byte & 0x7f) * 2 ** (7 * i)
    if ((byte & 0x80) === 0) {
      if (byte === 0 && i > 0) throw new MalformedError('stored-block frame states its block length as a non-minimal varint')
      break
    }
  }
  let cid: CID
  let rest: Uint8Array
  try {
    [cid, rest] = CID.decodeFirst(body.subarray(at))
  } catch (err: any) {
    throw new MalformedError(`stored-block frame does not carry a valid CID after its length: ${err.message}`)
  }
  if (!isBlockCid(cid)) throw new MalformedError(`stored-block frame carries CID ${cid}: drcore accepts only CIDv1 sha2-256 raw or dag-cbor blocks`)
  checkStoredShape(cid, flags, rawLength, rest.length)
  return { type: 'stored-block', cid, flags, rawLength, body: rest }
}

/**
 * Decodes a buffer holding whole frames (a capture, a test vector). Throws `MalformedError` on
 * the first bad frame, including a buffer that ends inside one.
 */
export function decodeFrames (bytes: Uint8Array): Frame[] {
  const frames: Frame[] = []
  let offset = 0
  while (offset < bytes.length) {
    const header = decodeFrameHeader(bytes, offset)
    if (header == null) throw new MalformedError(`truncated frame header at byte ${offset}`)
    const start = offset + header.headerLength
    const end = start + header.length
    if (end > bytes.length) throw new MalformedError(`truncated frame at byte ${offset}: ${bytes.length - start} of ${header.length} bytes`)
    frames.push(decodeFrameBody(bytes.subarray(start, end)))
    offset = end
  }
  return frames
}

/** Throws `CorruptBlockError` (naming the CID) unless the block's bytes hash to its CID. */
export function verifyBlock (block: { cid: CID, bytes: Uint8Array }): void {
  const digest = createHash('sha256').update(block.bytes).digest()
  if (!digest.equals(block.cid.multihash.digest)) {
    throw new CorruptBlockError(block.cid.toString(), 'its bytes from the network do not match its hash')
  }
}
