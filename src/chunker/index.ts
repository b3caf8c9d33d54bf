import { FastCdc } from './fastcdc.ts'
import type { Chunker, ChunkerOptions } from './api.ts'

export type { Chunker, ChunkerOptions } from './api.ts'
export { FastCdc } from './fastcdc.ts'

/**
 * Default chunk sizes, chosen by measurement (docs/chunking.md): small enough that a volume
 * image with scattered 4 KiB rewrites costs a small fraction of what restic's 1 MiB average
 * costs, large enough to keep index entries and file nodes small. Every chunk stays far below
 * the 1 MiB block limit.
 */
export const DEFAULT_CHUNKING: Readonly<ChunkerOptions> = Object.freeze({
  minSize: 16 * 1024,
  avgSize: 64 * 1024,
  maxSize: 256 * 1024
})

/** A streaming content-defined chunker; sizes default to `DEFAULT_CHUNKING`. */
export function createChunker (options: Partial<ChunkerOptions> = {}): Chunker {
  return new FastCdc({ ...DEFAULT_CHUNKING, ...options })
}
