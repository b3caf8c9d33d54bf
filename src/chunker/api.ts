/**
 * Content-defined chunking (FastCDC, gear hash, normalized chunking). Pure: bytes in, chunk
 * boundaries out, no I/O. Boundaries depend only on content, so an insert shifts no boundaries
 * beyond the next cut point.
 */
export interface ChunkerOptions {
  minSize: number
  avgSize: number
  maxSize: number
}

export interface Chunker {
  /**
   * Feeds the next piece of a stream; yields every complete chunk (as subarrays or copies of the
   * input). Call `finish()` at the end for the remainder.
   */
  push (data: Uint8Array): Iterable<Uint8Array>
  finish (): Iterable<Uint8Array>
}
