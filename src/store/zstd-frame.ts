/**
 * zstd frames read and written by hand, without compressing or decompressing (RFC 8878):
 *
 * - `zstdFrameLength` walks a frame's header and block headers to find where it ends, so a
 *   stream of frames can be cut into frames without decoding them (a seed part's bodies);
 * - `rawZstdFrame` wraps bytes in a frame of raw (stored) blocks: a valid zstd frame that any
 *   decoder turns back into the same bytes, at the cost of 12 bytes plus 3 per 128 KiB.
 */
import { MalformedError } from '../errors.ts'

const MAGIC = 0xfd2fb528
/** Largest block of a frame (Block_Maximum_Size: 128 KiB, or the window when smaller). */
export const MAX_ZSTD_BLOCK = 128 * 1024
const RAW_BLOCK = 0
const RLE_BLOCK = 1
const RESERVED_BLOCK = 3

export interface FrameInfo {
  /** bytes of the whole frame */
  length: number
  /** the content size its header states, when it states one */
  contentSize: number | undefined
  /** every block of it is raw (stored): its content is its blocks' bytes */
  raw: boolean
}

/**
 * The frame that starts at `offset`: its length, stated content size and kind. Undefined when
 * `bytes` ends before the frame does (more bytes are needed). `MalformedError` for bytes that
 * are not a zstd frame (skippable frames included: drcore never writes them).
 */
export function zstdFrameInfo (bytes: Uint8Array, offset = 0): FrameInfo | undefined {
  if (bytes.length - offset < 6) return undefined
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (view.getUint32(offset, true) !== MAGIC) throw new MalformedError('it is not a zstd frame (wrong magic number)')
  const descriptor = bytes[offset + 4]
  const fcsFlag = descriptor >> 6
  const singleSegment = (descriptor >> 5) & 1
  if ((descriptor & 0x08) !== 0) throw new MalformedError('its zstd frame header sets the reserved bit')
  const checksum = (descriptor >> 2) & 1
  const dictionaryBytes = [0, 1, 2, 4][descriptor & 3]
  const fcsBytes = fcsFlag === 0 ? singleSegment : [0, 2, 4, 8][fcsFlag]
  let at = offset + 5 + (singleSegment === 1 ? 0 : 1) + dictionaryBytes
  if (bytes.length < at + fcsBytes) return undefined
  let contentSize: number | undefined
  if (fcsBytes === 1) contentSize = bytes[at]
  else if (fcsBytes === 2) contentSize = view.getUint16(at, true) + 256
  else if (fcsBytes === 4) contentSize = view.getUint32(at, true)
  else if (fcsBytes === 8) contentSize = Number(view.getBigUint64(at, true))
  at += fcsBytes
  let raw = true
  while (true) {
    if (bytes.length < at + 3) return undefined
    const header = bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16)
    const last = header & 1
    const type = (header >> 1) & 3
    const size = header >>> 3
    if (type === RESERVED_BLOCK) throw new MalformedError('its zstd frame holds a block of the reserved type')
    if (size > MAX_ZSTD_BLOCK) throw new MalformedError(`its zstd frame holds a block of ${size} bytes, over the ${MAX_ZSTD_BLOCK}-byte limit`)
    if (type !== RAW_BLOCK) raw = false
    at += 3 + (type === RLE_BLOCK ? 1 : size)
    if (last === 1) break
  }
  at += checksum * 4
  if (bytes.length < at) return undefined
  return { length: at - offset, contentSize, raw }
}

/** Bytes of a raw frame holding `length` bytes. */
export function rawZstdFrameSize (length: number): number {
  return 9 + 3 * Math.max(1, Math.ceil(length / MAX_ZSTD_BLOCK)) + length
}

/**
 * A zstd frame of raw blocks holding `parts` back to back (`length` bytes in all), as buffers
 * to write one after the other: the parts themselves are not copied, only cut at block
 * boundaries. Single segment, content size stated in 4 bytes, no checksum.
 */
export function rawZstdFrame (parts: Uint8Array[], length: number): Uint8Array[] {
  if (length > 0xffffffff) throw new RangeError(`a raw zstd frame of ${length} bytes is too large`)
  const header = new Uint8Array(9)
  const view = new DataView(header.buffer)
  view.setUint32(0, MAGIC, true)
  header[4] = (2 << 6) | (1 << 5) // content size in 4 bytes, single segment
  view.setUint32(5, length, true)
  const out: Uint8Array[] = [header]
  const blockHeader = (size: number, last: boolean): Uint8Array => {
    const value = (size << 3) | (RAW_BLOCK << 1) | (last ? 1 : 0)
    return Uint8Array.of(value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff)
  }
  if (length === 0) return [header, blockHeader(0, true)]
  let left = length
  let part = 0
  let at = 0
  while (left > 0) {
    const size = Math.min(MAX_ZSTD_BLOCK, left)
    left -= size
    out.push(blockHeader(size, left === 0))
    let need = size
    while (need > 0) {
      const piece = parts[part].subarray(at, at + need)
      out.push(piece)
      need -= piece.length
      at += piece.length
      if (at === parts[part].length) {
        part++
        at = 0
      }
    }
  }
  return out
}

/**
 * `body` without the empty frames that follow its first: Node's zstd compressor, when its
 * output is exactly its 16 KiB chunk, appends an empty frame (9 bytes) after the real one. The
 * store keeps one frame per body (seed parts cut bodies at frame boundaries, receivers check the
 * shape), so new bodies are trimmed when written and bodies stored before that when read; a body
 * followed by anything else is returned as it is (the shape check names what is wrong).
 */
export function firstFrameOnly (body: Uint8Array): Uint8Array {
  let first: FrameInfo | undefined
  try {
    first = zstdFrameInfo(body)
  } catch {
    return body
  }
  if (first === undefined || first.length === body.length) return body
  for (let at = first.length; at < body.length;) {
    let next: FrameInfo | undefined
    try {
      next = zstdFrameInfo(body, at)
    } catch {
      return body
    }
    if (next === undefined || next.contentSize !== 0) return body
    at += next.length
  }
  return body.subarray(0, first.length)
}
