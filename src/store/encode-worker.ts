/**
 * The encode worker (see encode-pool.ts): compresses batches of blocks with one synchronous call
 * per block, off the main thread. A message carries the blocks back to back in one buffer; the
 * answer carries back the same buffer holding, back to back from its start, exactly the bodies
 * to write into the pack: the zstd frame when the block was to be compressed and zstd made it
 * smaller, else the block itself.
 *
 * Message in:  { id, input, lengths, compress (1 per block), level }
 * Message out: { id, output, sizes, flags } or { id, error }
 */
import { parentPort } from 'node:worker_threads'
import { constants, zstdCompressSync } from 'node:zlib'
import { FLAG_ZSTD } from './pack-format.ts'

export interface EncodeRequest {
  id: number
  input: ArrayBuffer
  lengths: number[]
  /** 1: try zstd on the block; 0: keep it as it is */
  compress: Uint8Array
  level: number
}

export interface EncodeReply {
  id: number
  output?: ArrayBuffer
  /** body length of each block in `output` */
  sizes?: number[]
  /** record flags of each body */
  flags?: number[]
  error?: string
}

export function encodeBatch (request: EncodeRequest): Required<Omit<EncodeReply, 'error'>> {
  const { id, input, lengths, level } = request
  const options = { params: { [constants.ZSTD_c_compressionLevel]: level } }
  const sizes: number[] = []
  const flags: number[] = []
  // Bodies are written back into the input buffer, in order: a body is never longer than its
  // block, so the write position never passes the start of the next block still to be read.
  // One buffer per batch travels both ways and no output buffer is allocated.
  const buffer = new Uint8Array(input)
  let at = 0
  let offset = 0
  for (let i = 0; i < lengths.length; i++) {
    const length = lengths[i]
    const block = buffer.subarray(offset, offset + length)
    let flag = 0
    let size = length
    let compressed: Uint8Array | undefined
    if (request.compress[i] === 1) {
      // the pledged size lets zstd size its window and tables to the block, not to 2 MiB
      compressed = zstdCompressSync(block, { ...options, pledgedSrcSize: length })
      if (compressed.length < length) {
        flag = FLAG_ZSTD
        size = compressed.length
      } else {
        compressed = undefined
      }
    }
    if (compressed !== undefined) buffer.set(compressed, at)
    else if (at !== offset) buffer.copyWithin(at, offset, offset + length)
    sizes.push(size)
    flags.push(flag)
    at += size
    offset += length
  }
  return { id, output: input, sizes, flags }
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
