import * as dagCbor from '@ipld/dag-cbor'
import { varint } from 'multiformats'
import type { CID } from 'multiformats/cid'

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
