/**
 * The encode worker (see encode-pool.ts). For each block of a batch it hashes the bytes it was
 * given and compares the digest with the one the block's CID names, then compresses the block
 * when asked and when zstd makes it smaller. The answer carries, back to back, exactly the bodies
 * to write into the pack: so whatever is stored was rehashed on the way, and no buffer a caller
 * might reuse is ever read after the batch was copied.
 *
 * Message in:  { id, input, lengths, digests (32 bytes per block), compress (1 per block), level }
 * Message out: { id, output, sizes, flags, mismatched } or { id, error }
 */
import { createHash } from 'node:crypto'
import { parentPort } from 'node:worker_threads'
import { constants, zstdCompressSync } from 'node:zlib'
import { FLAG_ZSTD } from './pack-format.ts'

export interface EncodeRequest {
  id: number
  input: ArrayBuffer
  lengths: number[]
  /** the expected sha2-256 digests, 32 bytes each, in block order */
  digests: ArrayBuffer
  /** 1: try zstd on the block; 0: keep it as it is */
  compress: Uint8Array
  level: number
}

export interface EncodeReply {
  id: number
  output?: ArrayBuffer
  /** body length of each block in `output` (0 for a mismatched one) */
  sizes?: number[]
  /** record flags of each body */
  flags?: number[]
  /** indexes of blocks whose bytes did not hash to their expected digest: never stored */
  mismatched?: number[]
  error?: string
}

const DIGEST = 32

export function encodeBatch (request: EncodeRequest): Required<Omit<EncodeReply, 'error'>> {
  const { id, input, lengths, level } = request
  const digests = new Uint8Array(request.digests)
  const options = { params: { [constants.ZSTD_c_compressionLevel]: level } }
  const bodies: Uint8Array[] = []
  const sizes: number[] = []
  const flags: number[] = []
  const mismatched: number[] = []
  let total = 0
  let offset = 0
  for (let i = 0; i < lengths.length; i++) {
    const length = lengths[i]
    const block = new Uint8Array(input, offset, length)
    offset += length
    const digest = createHash('sha256').update(block).digest()
    if (!digest.equals(digests.subarray(i * DIGEST, (i + 1) * DIGEST))) {
      mismatched.push(i)
      bodies.push(block.subarray(0, 0))
      sizes.push(0)
      flags.push(0)
      continue
    }
    let body = block
    let flag = 0
    if (request.compress[i] === 1) {
      // the pledged size lets zstd size its window and tables to the block, not to 2 MiB
      const compressed = zstdCompressSync(block, { ...options, pledgedSrcSize: length })
      if (compressed.length < length) {
        body = compressed
        flag = FLAG_ZSTD
      }
    }
    bodies.push(body)
    sizes.push(body.length)
    flags.push(flag)
    total += body.length
  }
  // one exact-size buffer of our own to transfer (a Buffer may be a view of a shared pool)
  const output = new Uint8Array(total)
  let at = 0
  for (const body of bodies) {
    output.set(body, at)
    at += body.length
  }
  return { id, output: output.buffer, sizes, flags, mismatched }
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
