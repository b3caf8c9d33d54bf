import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import * as dagCbor from '@ipld/dag-cbor'
import { MalformedError } from '../errors.ts'
import { DAG_CBOR_CODE, RAW_CODE, SHA2_256_CODE } from '../protocol/constants.ts'

export { DAG_CBOR_CODE, RAW_CODE, SHA2_256_CODE }

export interface Block {
  cid: CID
  bytes: Uint8Array
}

/** sha2-256 through node:crypto directly: this runs once per chunk on the backup hot path. */
export function sha256 (bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest()
}

export function rawCid (bytes: Uint8Array): CID {
  return CID.createV1(RAW_CODE, Digest.create(SHA2_256_CODE, sha256(bytes)))
}

export function cborCid (bytes: Uint8Array): CID {
  return CID.createV1(DAG_CBOR_CODE, Digest.create(SHA2_256_CODE, sha256(bytes)))
}

export function cborBlock (value: unknown): Block {
  const bytes = dagCbor.encode(value)
  return { cid: cborCid(bytes), bytes }
}

export function isRaw (cid: CID): boolean {
  return cid.code === RAW_CODE
}

/** Decodes dag-cbor bytes, turning decoder exceptions into a `MalformedError` naming `what`. */
export function decodeCbor (bytes: Uint8Array, what: string): unknown {
  try {
    return dagCbor.decode(bytes)
  } catch (err: any) {
    throw new MalformedError(`${what} is not valid dag-cbor: ${err.message}`)
  }
}

/**
 * The CIDs drcore itself writes and accepts inside nodes: v1, sha2-256, raw or dag-cbor.
 * Anything else coming off the network is refused rather than followed.
 */
export function isDrcoreCid (value: unknown): value is CID {
  const cid = CID.asCID(value)
  return cid != null && cid.version === 1 && cid.multihash.code === SHA2_256_CODE &&
    cid.multihash.size === 32 && (cid.code === RAW_CODE || cid.code === DAG_CBOR_CODE)
}

/** A compact key for sets of CIDs: the binary digest plus the codec (CID strings cost 3x the memory). */
export function cidKey (cid: CID): string {
  return String.fromCharCode(cid.code) + Buffer.from(cid.multihash.digest).toString('latin1')
}
