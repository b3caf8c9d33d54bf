import { SCAN_WINDOW } from './constants.ts'
import { checkPackHeader, PACK_HEADER_SIZE, parseRecord } from './pack-format.ts'
import type { PackRecord } from './pack-format.ts'
import { readFully, readInto } from './pack-files.ts'
import type { PackFileHandle } from './pack-files.ts'

export type ScanItem =
  | { records: PackRecord[] }
  /** the pack stops making sense at position `at` (0: not a pack at all); nothing more is yielded */
  | { problem: string, at: number }

/**
 * Reads a pack front to back in large windows and yields its records, a window's worth at a time,
 * reading the next window while the caller works on the current one. `limit` is where records
 * must end (the committed length, or the file size when rebuilding).
 *
 * Records point into a window buffer that is reused: they are valid until the caller asks for
 * the next item.
 */
export async function * scanPack (handle: PackFileHandle, path: string, limit: number): AsyncGenerator<ScanItem> {
  const problem = checkPackHeader(await readFully(handle, 0, PACK_HEADER_SIZE))
  if (problem !== undefined) {
    yield { problem: `pack ${path} is not a pack file: ${problem}`, at: 0 }
    return
  }
  const windows = new WindowReader(handle, PACK_HEADER_SIZE, limit)
  let buf: Uint8Array = new Uint8Array(0)
  /** pack position of buf[0] */
  let base = PACK_HEADER_SIZE
  let pos = 0
  while (true) {
    const records: PackRecord[] = []
    let need = 0
    while (base + pos < limit) {
      const result = parseRecord(buf, pos, base, limit)
      if ('record' in result) {
        records.push(result.record)
        pos = result.record.end - base
      } else if ('short' in result) {
        need = result.need
        break
      } else {
        if (records.length > 0) yield { records }
        yield { problem: `pack ${path}: ${result.malformed}`, at: base + pos }
        return
      }
    }
    if (records.length > 0) yield { records }
    if (base + pos >= limit) return

    buf = buf.subarray(pos)
    base += pos
    pos = 0
    while (buf.length < need) {
      const next = await windows.next(buf)
      if (next.end < next.expectedEnd) {
        yield { problem: `pack ${path} ends at ${next.end}, before its committed length ${limit}`, at: base }
        return
      }
      buf = next.bytes
    }
  }
}

/** Room in front of each window for the unparsed tail of the previous one (a partial record). */
const HEADROOM = 2 * 1024 * 1024

/**
 * Consecutive windows of a file, read one ahead into two alternating buffers. Reusing the
 * buffers matters: fresh 8 MiB allocations cost more in page faults than the reads themselves.
 */
class WindowReader {
  readonly #handle: PackFileHandle
  readonly #limit: number
  readonly #buffers = [new Uint8Array(HEADROOM + SCAN_WINDOW), new Uint8Array(HEADROOM + SCAN_WINDOW)]
  #turn = 0
  #position: number
  #ahead: Promise<{ position: number, got: number, length: number }> | undefined

  constructor (handle: PackFileHandle, start: number, limit: number) {
    this.#handle = handle
    this.#position = start
    this.#limit = limit
    this.#ahead = this.#read(this.#buffers[0])
  }

  /**
   * The next window with `tail` (the unparsed end of the previous one) in front of it. `end`
   * falls short of `expectedEnd` when the file ends early.
   */
  async next (tail: Uint8Array): Promise<{ bytes: Uint8Array, end: number, expectedEnd: number }> {
    if (this.#ahead === undefined) throw new Error('pack scan read past its limit')
    const { position, got, length } = await this.#ahead
    this.#ahead = undefined
    const buffer = this.#buffers[this.#turn]
    let bytes: Uint8Array
    if (tail.length <= HEADROOM) {
      buffer.set(tail, HEADROOM - tail.length)
      bytes = buffer.subarray(HEADROOM - tail.length, HEADROOM + got)
    } else {
      bytes = new Uint8Array(tail.length + got) // a record larger than the headroom: rare
      bytes.set(tail)
      bytes.set(buffer.subarray(HEADROOM, HEADROOM + got), tail.length)
    }
    // the other buffer held the previous window, whose tail is copied now: read into it
    this.#turn ^= 1
    if (this.#position < this.#limit) this.#ahead = this.#read(this.#buffers[this.#turn])
    return { bytes, end: position + got, expectedEnd: position + length }
  }

  #read (buffer: Uint8Array): Promise<{ position: number, got: number, length: number }> {
    const position = this.#position
    const length = Math.min(SCAN_WINDOW, this.#limit - position)
    this.#position += length
    const read = readInto(this.#handle, buffer, HEADROOM, length, position).then((got) => ({ position, got, length }))
    read.catch(() => {}) // a read-ahead nobody takes must not become an unhandled rejection
    return read
  }
}
