import { createHash } from 'node:crypto'
import { sha256 } from 'multiformats/hashes/sha2'
import type { CID } from 'multiformats/cid'
import { CorruptBlockError, MalformedError } from '../errors.ts'
import { looksIncompressible, unzstd, zstd } from './compression.ts'
import { MIN_COMPRESS_SIZE } from './constants.ts'
import { FLAG_ZSTD } from './pack-format.ts'

export interface EncodedBody {
  flags: number
  body: Uint8Array
}

/**
 * Compresses a block body for its pack record, on a worker thread so it overlaps hashing and I/O
 * on the main thread. Keeps the block as it is when it looks incompressible or zstd does not make
 * it smaller.
 */
export async function encodeBody (bytes: Uint8Array): Promise<EncodedBody> {
  // everything up to the first await runs before the caller continues: `bytes` is copied by then
  if (bytes.length < MIN_COMPRESS_SIZE || looksIncompressible(bytes)) return { flags: 0, body: own(bytes) }
  const compressed = await zstd(bytes)
  return compressed !== undefined ? { flags: FLAG_ZSTD, body: compressed } : { flags: 0, body: own(bytes) }
}

/**
 * A block kept as it is waits in the writer until its flush: a copy, so the caller may reuse its
 * buffer, and a chunk never pins the whole read buffer it is a view of.
 */
function own (bytes: Uint8Array): Uint8Array {
  return bytes.slice()
}

/** Decompression stops here when the block's length is not known (rebuilding the index). */
const MAX_UNKNOWN_LENGTH = 64 * 1024 * 1024

/**
 * Turns a stored body back into the block and checks it against its CID (and its length, when
 * known). Every failure is a `CorruptBlockError` naming the CID.
 */
export async function decodeBody (cid: CID, flags: number, body: Uint8Array, rawLength?: number): Promise<Uint8Array> {
  let bytes = body
  if ((flags & FLAG_ZSTD) !== 0) {
    try {
      bytes = await unzstd(body, Math.max(rawLength ?? MAX_UNKNOWN_LENGTH, 1))
    } catch (err) {
      throw new CorruptBlockError(cid.toString(), `its compressed body does not decompress (${(err as Error).message})`)
    }
  }
  if (rawLength !== undefined && bytes.length !== rawLength) {
    throw new CorruptBlockError(cid.toString(), `it is ${bytes.length} bytes long, the index says ${rawLength}`)
  }
  checkHash(cid, bytes)
  return bytes
}

/** Throws `CorruptBlockError` unless `bytes` hash to `cid`'s sha2-256 digest. */
export function checkHash (cid: CID, bytes: Uint8Array): void {
  assertSha256(cid)
  const digest = createHash('sha256').update(bytes).digest()
  if (!digest.equals(cid.multihash.digest)) throw new CorruptBlockError(cid.toString())
}

/** The store reads back only what it can rehash: sha2-256 CIDs. */
export function assertSha256 (cid: CID): void {
  if (cid.multihash.code !== sha256.code) {
    throw new MalformedError(`block ${cid} uses multihash 0x${cid.multihash.code.toString(16)}; this store holds sha2-256 blocks only`)
  }
}
