/** A segment of a pack object: the unit of ranged GETs, read-ahead and the cache. */
export const SEGMENT_SIZE = 4 * 1024 * 1024

export const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024

interface Segment {
  data: Promise<Uint8Array>
  bytes: number
}

/**
 * Recently read segments of pack objects, in memory, least recently used dropped first once
 * they pass `limit` bytes. A miss fetches the segment with one ranged GET and starts fetching
 * the next one (read-ahead: restores, transfers, verify and prune read packs front to back).
 * Packs are written once, so a cached segment stays right until its pack is deleted or a pack
 * of the same number is written again: `invalidate` then.
 */
export class SegmentCache {
  readonly limit: number
  readonly #fetch: (key: string, start: number, end: number) => Promise<Uint8Array>
  readonly #segments = new Map<string, Segment>()
  #bytes = 0
  hits = 0
  misses = 0

  constructor (limit: number, fetch: (key: string, start: number, end: number) => Promise<Uint8Array>) {
    this.limit = limit
    this.#fetch = fetch
  }

  get bytes (): number {
    return this.#bytes
  }

  /** Copies `length` bytes at `position` of object `key` (of `size` bytes) into `into` at `offset`. */
  async read (key: string, size: number, position: number, length: number, into: Uint8Array, offset: number): Promise<number> {
    const end = Math.min(size, position + length)
    if (position >= end) return 0
    const first = Math.floor(position / SEGMENT_SIZE)
    const last = Math.floor((end - 1) / SEGMENT_SIZE)
    const wanted: Array<Promise<Uint8Array>> = []
    for (let s = first; s <= last; s++) wanted.push(this.#segment(key, size, s, true))
    // read-ahead: the segment after the last one asked for
    if ((last + 1) * SEGMENT_SIZE < size) this.#segment(key, size, last + 1, false).catch(() => {})
    const segments = await Promise.all(wanted)
    let done = 0
    for (let i = 0; i < segments.length; i++) {
      const segmentStart = (first + i) * SEGMENT_SIZE
      const from = Math.max(position, segmentStart) - segmentStart
      const to = Math.min(end, segmentStart + segments[i].length) - segmentStart
      into.set(segments[i].subarray(from, to), offset + done)
      done += to - from
    }
    return done
  }

  invalidate (key: string): void {
    const prefix = `${key}@`
    for (const [name, segment] of this.#segments) {
      if (!name.startsWith(prefix)) continue
      this.#segments.delete(name)
      this.#bytes -= segment.bytes
    }
  }

  clear (): void {
    this.#segments.clear()
    this.#bytes = 0
  }

  #segment (key: string, size: number, index: number, counted: boolean): Promise<Uint8Array> {
    const name = `${key}@${index}`
    const cached = this.#segments.get(name)
    if (cached !== undefined) {
      // most recently used goes last
      this.#segments.delete(name)
      this.#segments.set(name, cached)
      if (counted) this.hits++
      return cached.data
    }
    if (counted) this.misses++
    const start = index * SEGMENT_SIZE
    const end = Math.min(size, start + SEGMENT_SIZE)
    const data = this.#fetch(key, start, end)
    const segment = { data, bytes: end - start }
    if (this.limit > 0) {
      this.#segments.set(name, segment)
      this.#bytes += segment.bytes
      // a failed fetch must not stay cached
      data.catch(() => {
        if (this.#segments.get(name) === segment) {
          this.#segments.delete(name)
          this.#bytes -= segment.bytes
        }
      })
      this.#evict()
    }
    return data
  }

  #evict (): void {
    for (const [name, segment] of this.#segments) {
      if (this.#bytes <= this.limit) break
      this.#segments.delete(name)
      this.#bytes -= segment.bytes
    }
  }
}
