import { SCAN_WINDOW } from './constants.ts'
import { checkPackHeader, PACK_HEADER_SIZE, parseRecord } from './pack-format.ts'
import type { PackRecord } from './pack-format.ts'
import { readFully } from './pack-files.ts'
import type { PackFileHandle } from './pack-files.ts'

export type ScanItem =
  | { records: PackRecord[] }
  /** the pack stops making sense at position `at` (0: not a pack at all); nothing more is yielded */
  | { problem: string, at: number }

/**
 * Reads a pack front to back in large windows and yields its records, a window's worth at a time.
 * `limit` is where records must end (the committed length, or the file size when rebuilding).
 * Records reference the window they were read into, which is never reused.
 */
export async function * scanPack (handle: PackFileHandle, path: string, limit: number): AsyncGenerator<ScanItem> {
  const problem = checkPackHeader(await readFully(handle, 0, PACK_HEADER_SIZE))
  if (problem !== undefined) {
    yield { problem: `pack ${path} is not a pack file: ${problem}`, at: 0 }
    return
  }
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

    const kept = buf.subarray(pos)
    const readFrom = base + buf.length
    const length = Math.min(Math.max(SCAN_WINDOW, need) - kept.length, limit - readFrom)
    const read = await readFully(handle, readFrom, length)
    if (read.length < length) {
      yield { problem: `pack ${path} ends at ${readFrom + read.length}, before its committed length ${limit}`, at: base + pos }
      return
    }
    const next = new Uint8Array(kept.length + read.length)
    next.set(kept)
    next.set(read, kept.length)
    base += pos
    buf = next
    pos = 0
  }
}
