import type { FileHandle } from 'node:fs/promises'
import type { readBlockHead } from '@ipld/car/decoder'
import { MalformedError } from '../errors.ts'
import { MAX_BLOCK_SIZE } from '../points/constants.ts'
import { zstdFrameInfo } from '../store/zstd-frame.ts'
import { READ_CHUNK } from './constants.ts'

type BytesReader = Parameters<typeof readBlockHead>[0]

/** A raw frame holds at most a section head and a block, or the preamble (two descriptors). */
const MAX_RAW_FRAME = 2 * MAX_BLOCK_SIZE + 64 * 1024
/** A block's zstd frame is never much longer than the block. */
const MAX_BODY_FRAME = MAX_BLOCK_SIZE + 64 * 1024

/**
 * Reads a `.car.zst` part (docs/seed-drives.md) without decompressing it: `reader` is the
 * CARv1 the part decompresses to, as far as raw frames carry it (the framing, and blocks stored
 * raw), for @ipld/car's decoder; `nextBody` takes the zstd frame that follows a section head
 * whose raw frame ended right after it, as the block's stored body. `pos` counts bytes of the
 * CAR, as a reader of `zstd -d`'s output would.
 */
export class ZstPart {
  readonly reader: BytesReader
  readonly #file: FileBytes
  #content: Uint8Array = new Uint8Array(0)
  #at = 0
  #pos = 0

  constructor (handle: FileHandle) {
    this.#file = new FileBytes(handle)
    const self = this
    this.reader = {
      async upTo (length: number) {
        await self.#ensureContent()
        return self.#content.subarray(self.#at, self.#at + length)
      },
      async exactly (length: number, seek = false) {
        await self.#ensureContent()
        if (self.#content.length - self.#at < length) {
          if (self.#content.length === self.#at) throw new Error('Unexpected end of data')
          throw new MalformedError(`a section runs past the end of its zstd frame (${self.#content.length - self.#at} of ${length} bytes in it)`)
        }
        const out = self.#content.subarray(self.#at, self.#at + length)
        if (seek) self.#skip(length)
        return out
      },
      seek (length: number) {
        self.#skip(length)
      },
      get pos () {
        return self.#pos
      }
    }
  }

  /** Whether the raw frame read last is used up: the next bytes of the CAR start a new frame. */
  get atFrameEnd (): boolean {
    return this.#at === this.#content.length
  }

  /** The zstd frame at the reader's position: the stored body of a block of `rawLength` bytes. */
  async nextBody (rawLength: number): Promise<Uint8Array> {
    if (!this.atFrameEnd) throw new Error('a block body starts only where a raw frame ends')
    const frame = await this.#frame(MAX_BODY_FRAME, 'a block')
    this.#pos += rawLength
    return frame.bytes
  }

  #skip (length: number): void {
    this.#at += length
    this.#pos += length
  }

  /** Loads the next raw frame once the current one is used up (nothing at the end of the file). */
  async #ensureContent (): Promise<void> {
    if (this.#at < this.#content.length) return
    if (await this.#file.atEnd()) return
    const offset = this.#file.offset
    const { bytes, raw } = await this.#frame(MAX_RAW_FRAME, 'the CAR framing')
    if (!raw) throw new MalformedError(`the zstd frame at byte ${offset} of the file is compressed where a raw frame of CAR framing belongs`)
    this.#content = rawContent(bytes)
    this.#at = 0
  }

  /** The whole frame at the file's position, and whether it is raw. */
  async #frame (limit: number, what: string): Promise<{ bytes: Uint8Array, raw: boolean }> {
    const offset = this.#file.offset
    let want = 4096
    while (true) {
      const bytes = await this.#file.peek(want)
      let info
      try {
        info = zstdFrameInfo(bytes)
      } catch (err) {
        throw new MalformedError(`the file holds no zstd frame at byte ${offset} (${(err as Error).message})`)
      }
      if (info !== undefined) {
        if (info.length > limit) throw new MalformedError(`the zstd frame of ${what} at byte ${offset} of the file is ${info.length} bytes, past the ${limit}-byte limit`)
        return { bytes: this.#file.take(info.length), raw: info.raw }
      }
      if (bytes.length < want) throw new Error('Unexpected end of data')
      if (want >= limit) throw new MalformedError(`the zstd frame of ${what} at byte ${offset} of the file runs past the ${limit}-byte limit`)
      want = Math.min(want * 4, limit + 16)
    }
  }
}

/** The content of a frame of raw blocks (checked by `zstdFrameInfo`). */
function rawContent (frame: Uint8Array): Uint8Array {
  const descriptor = frame[4]
  const singleSegment = (descriptor >> 5) & 1
  const fcsFlag = descriptor >> 6
  let at = 5 + (singleSegment === 1 ? 0 : 1) + [0, 1, 2, 4][descriptor & 3] + (fcsFlag === 0 ? singleSegment : [0, 2, 4, 8][fcsFlag])
  const pieces: Uint8Array[] = []
  let length = 0
  while (true) {
    const header = frame[at] | (frame[at + 1] << 8) | (frame[at + 2] << 16)
    const size = header >>> 3
    pieces.push(frame.subarray(at + 3, at + 3 + size))
    length += size
    at += 3 + size
    if ((header & 1) === 1) break
  }
  if (pieces.length === 1) return pieces[0]
  const out = new Uint8Array(length)
  let filled = 0
  for (const piece of pieces) {
    out.set(piece, filled)
    filled += piece.length
  }
  return out
}

/**
 * Sequential bytes of a file, read READ_CHUNK at a time. What `take` hands out are views of
 * buffers that are never written again, so they stay valid.
 */
class FileBytes {
  readonly #handle: FileHandle
  #buffer: Uint8Array = new Uint8Array(0)
  #start = 0
  #filePosition = 0
  #ended = false
  offset = 0

  constructor (handle: FileHandle) {
    this.#handle = handle
  }

  async atEnd (): Promise<boolean> {
    return (await this.peek(1)).length === 0
  }

  /** Up to `length` next bytes (fewer at the end of the file), not consumed. */
  async peek (length: number): Promise<Uint8Array> {
    if (this.#buffer.length - this.#start < length && !this.#ended) {
      const have = this.#buffer.length - this.#start
      const next = Buffer.allocUnsafe(Math.max(length, READ_CHUNK))
      next.set(this.#buffer.subarray(this.#start), 0)
      let filled = have
      while (filled < next.length) {
        const { bytesRead } = await this.#handle.read(next, filled, next.length - filled, this.#filePosition)
        if (bytesRead === 0) {
          this.#ended = true
          break
        }
        filled += bytesRead
        this.#filePosition += bytesRead
      }
      this.#buffer = next.subarray(0, filled)
      this.#start = 0
    }
    return this.#buffer.subarray(this.#start, this.#start + length)
  }

  /** Consumes `length` bytes that `peek` returned. */
  take (length: number): Uint8Array {
    const out = this.#buffer.subarray(this.#start, this.#start + length)
    this.#start += length
    this.offset += length
    return out
  }
}
