/**
 * The zstd worker (see zstd-pool.ts): compresses batches of blocks with one synchronous call per
 * block, off the main thread. A message carries the blocks back to back in one buffer; the answer
 * carries the compressed bodies back to back in another, with -1 for a block that did not shrink.
 */
import { parentPort } from 'node:worker_threads'
import { constants, zstdCompressSync } from 'node:zlib'

interface Request { id: number, input: ArrayBuffer, lengths: number[], level: number }

const port = parentPort
if (port === null) throw new Error('zstd-worker.ts runs as a worker thread')

port.on('message', ({ id, input, lengths, level }: Request) => {
  try {
    const options = { params: { [constants.ZSTD_c_compressionLevel]: level } }
    const outputs: Array<Uint8Array | undefined> = []
    let total = 0
    let offset = 0
    for (const length of lengths) {
      // the pledged size lets zstd size its window and tables to the block, not to 2 MiB
      const compressed = zstdCompressSync(new Uint8Array(input, offset, length), { ...options, pledgedSrcSize: length })
      offset += length
      if (compressed.length < length) {
        outputs.push(compressed)
        total += compressed.length
      } else {
        outputs.push(undefined)
      }
    }
    // one exact-size buffer of our own to transfer (a Buffer may be a view of a shared pool)
    const output = new Uint8Array(total)
    const sizes: number[] = []
    let at = 0
    for (const out of outputs) {
      if (out === undefined) {
        sizes.push(-1)
        continue
      }
      output.set(out, at)
      at += out.length
      sizes.push(out.length)
    }
    port.postMessage({ id, output: output.buffer, sizes }, [output.buffer])
  } catch (err) {
    port.postMessage({ id, error: (err as Error).message })
  }
})
