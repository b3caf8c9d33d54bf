import { FastCdc } from './fastcdc.ts'
import type { Chunker, ChunkerOptions } from './api.ts'

export type { Chunker, ChunkerOptions } from './api.ts'
export { FastCdc } from './fastcdc.ts'

const KiB = 1024

/**
 * Chunk sizes for an average: min a quarter of it, max four times it (normalized chunking keeps
 * most chunks near the average). The averages a repository may be created with: each fixes the
 * boundaries of every backup into it, so a repository keeps its own for good (docs/chunking.md).
 */
export const CHUNK_AVERAGES = [16 * KiB, 32 * KiB, 64 * KiB] as const

export function chunkingForAverage (avgSize: number): ChunkerOptions {
  return { minSize: avgSize / 4, avgSize, maxSize: avgSize * 4 }
}

/**
 * The sizes of every repository whose config records none: all backups before sizes were
 * recorded used these, and their repositories keep them so that new points dedup with old ones.
 */
export const LEGACY_CHUNKING: Readonly<ChunkerOptions> = Object.freeze(chunkingForAverage(64 * KiB))

/**
 * Sizes of a new repository unless `drcore init --chunk-size` says otherwise, chosen by
 * measurement on ext4 images of real files with scattered 4 KiB rewrites (docs/chunking.md): 32
 * KiB stores a third less of such an incremental, but costs 13% more CPU on a first backup and
 * took a 4 GiB image's backup over its 300 MB peak RSS target, so new repositories keep 64 KiB.
 * Every chunk stays far below the 1 MiB block limit.
 */
export const DEFAULT_CHUNKING: Readonly<ChunkerOptions> = LEGACY_CHUNKING

/** A streaming content-defined chunker; sizes default to `DEFAULT_CHUNKING`. */
export function createChunker (options: Partial<ChunkerOptions> = {}): Chunker {
  return new FastCdc({ ...DEFAULT_CHUNKING, ...options })
}
