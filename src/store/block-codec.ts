import { createHash } from 'node:crypto'
import { sha256 } from 'multiformats/hashes/sha2'
import type { CID } from 'multiformats/cid'
import { CorruptBlockError, MalformedError } from '../errors.ts'
import { MAX_BLOCK_SIZE } from '../protocol/constants.ts'
import type { ProvedBlock, StoredBlock } from './api.ts'
import { looksIncompressible, reserveEncoding, unzstd } from './compression.ts'
import { StoredBodyError } from './encode-pool.ts'
import type { EncodedBody } from './encode-pool.ts'
import { MIN_COMPRESS_SIZE } from './constants.ts'
import { BlockIntegrityError } from './errors.ts'
import { FLAG_ZSTD, KNOWN_FLAGS } from './pack-format.ts'
import { firstFrameOnly, zstdFrameInfo } from './zstd-frame.ts'

export type { EncodedBody } from './encode-pool.ts'

/**
 * A block's bytes as the store owns them: copied, and hashed from the copy. Whatever is stored
 * for the block is this copy or a zstd frame of it, so the digest is, by construction, the hash
 * of what is stored: no later reuse of the caller's buffer, and no bug between hashing and
 * storing, can put bytes under a CID they do not match.
 *
 * `commit` (queue it for its pack) or `release` (a duplicate: drop it) must be called before the
 * caller yields to the event loop: the copy may sit in the encoder's next batch.
 */
export interface OwnedBlock {
  readonly length: number
  /** sha2-256 of the copy */
  readonly digest: Buffer
  /** the body to store: the copy, or a zstd frame of it when that is smaller (on a worker) */
  commit (): Promise<EncodedBody>
  release (): void
}

/**
 * Takes ownership of a block's bytes (see `OwnedBlock`). `bytes` is borrowed only for the
 * duration of this call: it is copied before `ownBlock` returns, so the caller may overwrite its
 * buffer as soon as the call returns.
 */
export function ownBlock (bytes: Uint8Array): OwnedBlock {
  if (bytes.length < MIN_COMPRESS_SIZE) {
    // a few bytes: zstd's frame would eat any gain; no trip to the worker
    const copy = bytes.slice()
    return {
      length: copy.length,
      digest: sha256Of(copy),
      commit: () => Promise.resolve({ flags: 0, body: copy }),
      release: () => {}
    }
  }
  const reservation = reserveEncoding(bytes)
  const copy = reservation.bytes
  const compress = !looksIncompressible(copy)
  return {
    length: copy.length,
    digest: sha256Of(copy),
    commit: () => reservation.commit(compress),
    release: () => { reservation.release() }
  }
}

/**
 * Takes a copy of a block's stored body (from a peer or a seed drive) and proves it on a worker:
 * it must decompress to exactly `rawLength` bytes (never more: the worker stops there) that hash
 * to `cid`. Resolves to the copy as it came (what is stored is what was proved); rejects with
 * `BlockIntegrityError` saying what is wrong. `stored.body` is borrowed for this call only.
 */
export function ownStored (cid: CID, given: StoredBlock): Promise<EncodedBody> {
  // a body from a Core that stored the empty frame Node's compressor sometimes appends
  const stored = (given.flags & FLAG_ZSTD) !== 0 ? { ...given, body: firstFrameOnly(given.body) } : given
  const problem = storedShapeProblem(stored)
  if (problem !== undefined) return Promise.reject(new BlockIntegrityError(cid.toString(), stored.body.length, problem))
  const reservation = reserveEncoding(stored.body)
  return reservation.verify({ flags: stored.flags, rawLength: stored.rawLength, digest: cid.multihash.digest }).catch((err: unknown) => {
    if (err instanceof StoredBodyError) throw new BlockIntegrityError(cid.toString(), stored.body.length, `the ${stored.body.length}-byte stored body given for it is wrong: ${err.message}`)
    throw err
  })
}

/** The proved copies of the `ProvedBlock`s handed out: out of their holders' reach, taken by a writer. */
const provedCopies = new WeakMap<ProvedBlock, EncodedBody>()

/**
 * Proves a stored body as `putStored` does (on a worker), without storing it: the proved copy,
 * kept for `BlockWriter.putProved` (see `ProvedBlock`), when it holds the block `cid` names,
 * else what is wrong with it. For readers that refuse one block and go on (a seed part), where
 * a writer would refuse the whole batch. `stored.body` is borrowed for this call only: it is
 * copied before the call returns.
 */
export async function proveStored (cid: CID, stored: StoredBlock): Promise<{ proved: ProvedBlock } | { problem: string }> {
  let copy: EncodedBody
  try {
    copy = await ownStored(cid, stored)
  } catch (err) {
    if (err instanceof BlockIntegrityError) return { problem: err.detail.replace(/^the \d+-byte stored body given for it is wrong: /, '') }
    throw err
  }
  const proved: ProvedBlock = Object.freeze({
    cid,
    flags: copy.flags,
    rawLength: stored.rawLength,
    storedLength: copy.body.length,
    release: () => {
      provedCopies.get(proved)?.release?.()
      provedCopies.delete(proved)
    }
  })
  provedCopies.set(proved, copy)
  return { proved }
}

/**
 * The proved copy `proved` holds, handed over once: to the writer that stores it. Throws when
 * it was taken or released before, or did not come from `proveStored`.
 */
export function takeProved (proved: ProvedBlock): EncodedBody {
  const copy = provedCopies.get(proved)
  if (copy === undefined) throw new Error(`block ${proved.cid}: its proved copy was stored or released already (or it was not proved by proveStored)`)
  provedCopies.delete(proved)
  return copy
}

/** Why a stored form cannot be right whatever its bytes, or undefined. */
export function storedShapeProblem (stored: StoredBlock): string | undefined {
  if ((stored.flags & ~KNOWN_FLAGS) !== 0 || stored.flags < 0 || stored.flags > 0xff) return `its record flags 0x${stored.flags.toString(16)} are unknown`
  if (!Number.isSafeInteger(stored.rawLength) || stored.rawLength < 0 || stored.rawLength > MAX_BLOCK_SIZE) return `its stated length ${stored.rawLength} is outside 0 to ${MAX_BLOCK_SIZE} bytes`
  if ((stored.flags & FLAG_ZSTD) === 0) {
    if (stored.body.length !== stored.rawLength) return `its raw body is ${stored.body.length} bytes where ${stored.rawLength} were stated`
    return undefined
  }
  // one zstd frame, as the store writes them: seed parts cut their bodies at frame boundaries
  let frame
  try {
    frame = zstdFrameInfo(stored.body)
  } catch (err) {
    return `its zstd body is not a zstd frame: ${(err as Error).message}`
  }
  if (frame === undefined) return 'its zstd body ends inside its frame'
  if (frame.length !== stored.body.length) return `its zstd body holds ${stored.body.length - frame.length} bytes after its frame`
  return undefined
}

function sha256Of (bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest()
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
