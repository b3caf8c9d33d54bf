import * as dagCbor from '@ipld/dag-cbor'
import { varint } from 'multiformats'
import type { CID } from 'multiformats/cid'
import type { StoredBlock } from '../store/api.ts'
import { FLAG_ZSTD } from '../store/pack-format.ts'
import { rawZstdFrame, rawZstdFrameSize } from '../store/zstd-frame.ts'

/**
 * CARv1 framing (https://ipld.io/specs/transport/car/carv1/), written by hand so a part is
 * produced in large sequential writes with exact, precomputed sizes:
 *
 *   varint(header length) | dag-cbor {version: 1, roots: [root]}
 *   varint(cid length + block length) | cid | block      (one section per block)
 *
 * Reading goes through @ipld/car's own decoder (see part-reader.ts).
 */

/** The header of a CARv1 with one root. Its length depends only on the root CID's length. */
export function carHeader (root: CID): Uint8Array {
  const header = dagCbor.encode({ version: 1, roots: [root] })
  const out = new Uint8Array(varint.encodingLength(header.length) + header.length)
  varint.encodeTo(header.length, out, 0)
  out.set(header, out.length - header.length)
  return out
}

/** The bytes before a block in its section: varint(length of CID and block) and the CID. */
export function sectionHead (cid: CID, blockLength: number): Uint8Array {
  const length = cid.bytes.length + blockLength
  const head = new Uint8Array(varint.encodingLength(length) + cid.bytes.length)
  varint.encodeTo(length, head, 0)
  head.set(cid.bytes, head.length - cid.bytes.length)
  return head
}

/** Bytes a section takes in the file. */
export function sectionSize (cidLength: number, blockLength: number): number {
  const length = cidLength + blockLength
  return varint.encodingLength(length) + length
}

/**
 * A part as `.car.zst` (docs/seed-drives.md, "Format of a part"): zstd frames whose content,
 * one after the other, is the CARv1 above. The CAR framing (header, descriptors, each section's
 * head) and blocks stored raw travel in frames of raw blocks built by hand; a block stored as a
 * zstd frame travels as that very frame. A data section is therefore
 *
 *   raw frame [varint | CID | block]                     block stored raw (or empty)
 *   raw frame [varint | CID], then the block's zstd frame  block stored compressed
 *
 * and a reader tells the two apart by where the raw frame ends: right after the CID means the
 * next frame is the block.
 */
export function zstSection (cid: CID, stored: StoredBlock): Uint8Array[] {
  const head = sectionHead(cid, stored.rawLength)
  if (!carriesFrame(stored)) {
    const body = stored.rawLength === 0 ? new Uint8Array(0) : stored.body
    return rawZstdFrame([head, body], head.length + body.length)
  }
  return [...rawZstdFrame([head], head.length), stored.body]
}

/** Bytes `zstSection` writes for a block of `rawLength` bytes stored in `storedLength` bytes. */
export function zstSectionSize (cidLength: number, rawLength: number, stored: { compressed: boolean, storedLength: number }): number {
  const head = sectionSize(cidLength, rawLength) - rawLength
  if (!stored.compressed || rawLength === 0) return rawZstdFrameSize(head + rawLength)
  return rawZstdFrameSize(head) + stored.storedLength
}

/** The most `zstSection` may take for a block whose stored form is not known: the larger of both layouts. */
export function zstSectionBound (cidLength: number, rawLength: number, storedLength: number): number {
  return Math.max(zstSectionSize(cidLength, rawLength, { compressed: false, storedLength }), zstSectionSize(cidLength, rawLength, { compressed: true, storedLength }))
}

/** A part's CAR header and descriptor sections, as one raw zstd frame. */
export function zstPreamble (parts: Uint8Array[]): Uint8Array[] {
  let length = 0
  for (const part of parts) length += part.length
  return rawZstdFrame(parts, length)
}

/** Whether a block travels as its own zstd frame (stored compressed, and not empty). */
function carriesFrame (stored: StoredBlock): boolean {
  return (stored.flags & FLAG_ZSTD) !== 0 && stored.rawLength > 0
}
