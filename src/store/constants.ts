const MiB = 1024 * 1024

/**
 * A writer starts a new pack once the next flush would take its pack past this size. Prune frees
 * space a pack at a time (a pack is deleted when it is all dead, copied when mostly dead), so a
 * pack is the unit of what prune can give back: at 256 MiB a small repository was one pack, and
 * prune freed nothing until 5% of everything was dead, then copied every live byte. 32 MiB is
 * about restic's default (16 MiB) and a good object size for an S3 store.
 */
export const PACK_TARGET_SIZE = 32 * MiB

/** A writer flushes once its pending blocks reach this many uncompressed bytes ... */
export const FLUSH_BYTES = 32 * MiB
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
