/** Format name and version of the seed descriptor block (its CID is the seed id). */
export const SEED_FORMAT = 'drcore-seed'
/** Format name and version of the descriptor at the root of each part. */
export const PART_FORMAT = 'drcore-seed-part'
export const SEED_FORMAT_VERSION = 1

/** Part files: `<seed id>-0001.car.zst`; the number has at least four digits. */
export const PART_DIGITS = 4
/** What `seed create` writes: zstd frames whose content is a CARv1 (docs/seed-drives.md). */
export const PART_EXTENSION = '.car.zst'
/** Parts of seeds written before `.car.zst`: plain CARv1 files, still consumed. */
export const PLAIN_PART_EXTENSION = '.car'
/** Suffix of a part while it is written; renamed to its final name once it is complete and synced. */
export const PARTIAL_SUFFIX = '.partial'

/**
 * Points one seed may carry. The seed descriptor lists every point id and is repeated in every
 * part; 10 000 ids keep it near 600 KiB, under the 1 MiB block limit that CAR tools enforce.
 */
export const MAX_SEED_POINTS = 10_000

/**
 * Blocks remembered across points and machines to skip repeats (see docs/seed-drives.md,
 * "Deduplication"). Two generations of this many keys: between 128 Ki and 256 Ki recent blocks,
 * about 20 MB, whatever the size of the seed.
 */
export const RECENT_BLOCKS = 1 << 17

/**
 * Sections of a part being proved on the store's workers while `seed consume` stores the one
 * before (each a view of its 4 MiB read chunk, so at most a few chunks stay pinned). 32 left the
 * workers waiting for work on small blocks: consuming the tree's seed (56k blocks) took 7.7-8.9 s,
 * with 64 7.1 s, with 128 or 256 no less; peak RSS about 500 MB in each case.
 */
export const READ_AHEAD = 64
/** Size lookups in flight while planning. */
export const SIZE_LOOKUPS = 64
/** Bytes, or buffers (IOV_MAX), gathered before one vectored write to a part file. */
export const WRITE_BATCH = 8 * 1024 * 1024
export const WRITE_BUFFERS = 1024
/** Bytes read from a part file at once while consuming. */
export const READ_CHUNK = 4 * 1024 * 1024

/** Sublevels: seeds this Core created (source side), and seeds it consumed (target side). */
export const SEEDS_SUBLEVEL = 'seeds'
export const SEED_IMPORTS_SUBLEVEL = 'seed-imports'
