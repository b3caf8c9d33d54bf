const MiB = 1024 * 1024

/** A writer starts a new pack once the next flush would take its pack past this size. */
export const PACK_TARGET_SIZE = 256 * MiB

/**
 * A writer flushes once its pending blocks reach this many uncompressed bytes ... A writer holds
 * its queue and the batch being flushed (each block's stored body until its pack write is
 * done): at 32 MiB that was up to 64 MiB of a backup's peak RSS on incompressible stretches of an
 * image; at 8 MiB a flush still carries hundreds of blocks per fsync (docs/benchmarks.md).
 */
export const FLUSH_BYTES = 8 * MiB
/** ... or this many blocks. */
export const FLUSH_BLOCKS = 8192

/** zstd level for block bodies: level 3 is zstd's default and compresses at disk speed. */
export const ZSTD_LEVEL = 3
/** Bodies shorter than this are stored as they are: zstd's frame overhead eats any gain. */
export const MIN_COMPRESS_SIZE = 64

/** Open read handles kept per store (least recently used one closed first). */
export const READ_HANDLE_CACHE = 32

/** verifyAll looks up the index entries of scanned records in multi-gets of this many keys. */
export const LOOKUP_BATCH = 1024

/** `verifyAll` and `rebuildBlockIndex` read packs in windows of this size. */
export const SCAN_WINDOW = 8 * MiB

/** Sizes a store works with; tests shrink them to reach rollovers and background flushes. */
export interface StoreLimits {
  packTargetSize: number
  flushBytes: number
  flushBlocks: number
}

export const DEFAULT_LIMITS: Readonly<StoreLimits> = Object.freeze({
  packTargetSize: PACK_TARGET_SIZE,
  flushBytes: FLUSH_BYTES,
  flushBlocks: FLUSH_BLOCKS
})
