/**
 * The encode worker (see encode-pool.ts): compresses batches of blocks with one synchronous call
 * per block, off the main thread. A message carries the blocks back to back in one buffer; the
 * answer carries back the same buffer holding, back to back from its start, exactly the bodies
 * to write into the pack: the zstd frame when the block was to be compressed and zstd made it
 * smaller, else the block itself.
 *
 * A job may instead be a stored body to prove (`compress[i] === VERIFY`, a body from a peer or a
 * seed drive): it is decompressed (at most its stated length) and hashed against the digest it
 * claims, and comes back unchanged with its flags, or with an error saying what is wrong.
 *
 * Message in:  { id, input, lengths, compress (1 per block), level, expect? }
 * Message out: { id, output, sizes, flags, errors } or { id, error }
 */
import { createHash } from 'node:crypto'
import { parentPort } from 'node:worker_threads'
import { constants, zstdCompressSync, zstdDecompressSync } from 'node:zlib'
import { FLAG_ZSTD } from './pack-format.ts'
import { firstFrameOnly } from './zstd-frame.ts'

/** `compress[i]`: keep the block as it is, try zstd on it, or prove a stored body. */
export const KEEP = 0
export const COMPRESS = 1
export const VERIFY = 2

/** What a stored body must prove: its flags, the length of the block it holds, its sha2-256. */
export interface StoredClaim {
  flags: number
  rawLength: number
  digest: Uint8Array
}

export interface EncodeRequest {
  id: number
  input: ArrayBuffer
  lengths: number[]
  /** 1: try zstd on the block; 0: keep it as it is */
  compress: Uint8Array
  level: number
  /** for each VERIFY job, its claim (other entries null) */
  expect?: Array<StoredClaim | null>
}

export interface EncodeReply {
  id: number
  output?: ArrayBuffer
  /** body length of each block in `output` */
  sizes?: number[]
  /** record flags of each body */
  flags?: number[]
  /** per job: why its stored body does not prove its claim, or null */
  errors?: Array<string | null>
  error?: string
}

export function encodeBatch (request: EncodeRequest): Required<Omit<EncodeReply, 'error'>> {
  const { id, input, lengths, level } = request
  const options = { params: { [constants.ZSTD_c_compressionLevel]: level } }
  const sizes: number[] = []
  const flags: number[] = []
  const errors: Array<string | null> = []
  // Bodies are written back into the input buffer, in order: a body is never longer than its
  // block (a proved stored body is kept as it is, a refused one takes no room), so the write
  // position never passes the start of the next block still to be read. One buffer per batch
  // travels both ways and no output buffer is allocated.
  const buffer = new Uint8Array(input)
  let at = 0
  let offset = 0
  for (let i = 0; i < lengths.length; i++) {
    const length = lengths[i]
    const block = buffer.subarray(offset, offset + length)
    let flag = 0
    let size = length
    let compressed: Uint8Array | undefined
    let error: string | null = null
    if (request.compress[i] === VERIFY) {
      const claim = request.expect?.[i]
      if (claim == null) throw new Error(`job ${i} has no claim to verify`)
      flag = claim.flags
      error = proveStored(block, claim)
      // a refused body is not handed back: nothing of it is written
      if (error !== null) size = 0
    } else if (request.compress[i] === COMPRESS) {
      // the pledged size lets zstd size its window and tables to the block, not to 2 MiB
      compressed = firstFrameOnly(zstdCompressSync(block, { ...options, pledgedSrcSize: length }))
      if (compressed.length < length) {
        flag = FLAG_ZSTD
        size = compressed.length
      } else {
        compressed = undefined
      }
    }
    if (compressed !== undefined) buffer.set(compressed, at)
    else if (size > 0 && at !== offset) buffer.copyWithin(at, offset, offset + length)
    sizes.push(size)
    flags.push(flag)
    errors.push(error)
    at += size
    offset += length
  }
  return { id, output: input, sizes, flags, errors }
}

/** Null when `body` holds a block of `claim.rawLength` bytes hashing to `claim.digest`, else why not. */
export function proveStored (body: Uint8Array, claim: StoredClaim): string | null {
  let bytes = body
  if ((claim.flags & FLAG_ZSTD) !== 0) {
    try {
      bytes = zstdDecompressSync(body, { maxOutputLength: Math.max(claim.rawLength, 1) })
    } catch (err) {
      return `its zstd body does not decompress to at most ${claim.rawLength} bytes (${(err as Error).message})`
    }
  }
  if (bytes.length !== claim.rawLength) return `it holds ${bytes.length} bytes where ${claim.rawLength} were stated`
  const digest = createHash('sha256').update(bytes).digest()
  return digest.equals(claim.digest) ? null : 'its bytes do not match its hash'
}

const port = parentPort
if (port !== null) {
  port.on('message', (request: EncodeRequest) => {
    try {
      const reply = encodeBatch(request)
      port.postMessage(reply, [reply.output])
    } catch (err) {
      port.postMessage({ id: request.id, error: (err as Error).message } satisfies EncodeReply)
    }
  })
}
