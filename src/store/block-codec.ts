import { createHash } from 'node:crypto'
import { sha256 } from 'multiformats/hashes/sha2'
import type { CID } from 'multiformats/cid'
import { CorruptBlockError, MalformedError } from '../errors.ts'
import { encodeOnWorker, looksIncompressible, unzstd } from './compression.ts'
import { DigestMismatchError } from './encode-pool.ts'
import type { EncodedBody } from './encode-pool.ts'
import { MIN_COMPRESS_SIZE } from './constants.ts'
import { FLAG_ZSTD } from './pack-format.ts'

export type { EncodedBody } from './encode-pool.ts'

/**
 * The pack body of a block: rehashed against `cid` and compressed when that pays (see
 * encode-pool.ts). A block is kept as it is when it is tiny, looks incompressible, or zstd does
 * not make it smaller.
 *
 * Ownership: `bytes` is borrowed only for the duration of this call. It is copied before
 * `encodeBody` returns (this is deliberately not an async function: nothing of it runs after the
 * caller has moved on), so the caller may overwrite its buffer as soon as the call returns. The
 * body that resolves was hashed from that copy, never from the caller's buffer. A block whose
 * bytes do not match `cid` rejects with `DigestMismatchError` and must never be stored.
 */
export function encodeBody (cid: CID, bytes: Uint8Array): Promise<EncodedBody> {
  const digest = cid.multihash.digest
  if (bytes.length < MIN_COMPRESS_SIZE) {
    // a few bytes: hashing the copy here costs less than a trip to the worker
    const copy = bytes.slice()
    if (!createHash('sha256').update(copy).digest().equals(digest)) {
      return Promise.reject(new DigestMismatchError(`the ${copy.length} bytes given for block ${cid} do not hash to its CID`))
    }
    return Promise.resolve({ flags: 0, body: copy })
  }
  return encodeOnWorker(bytes, digest, !looksIncompressible(bytes))
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
