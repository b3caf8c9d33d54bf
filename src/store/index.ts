/**
 * The block store: content-addressed blocks in zstd-compressed pack files, indexed by LevelDB.
 * Formats in docs/formats.md; crash-safety rules in api.ts.
 */
export type { BlockStore, BlockWriter, Collection, CollectOptions, IndexOp, PackUse, StoredBlock, StoreStats, SweepHooks, SweepPlan, SweepResult, VerifyResult, WriterStats } from './api.ts'
export { openBlockStore } from './block-store.ts'
export type { BlockStoreOptions } from './block-store.ts'
export { rebuildBlockIndex } from './rebuild.ts'
export type { RebuildResult } from './rebuild.ts'
export { BlockIntegrityError, CollectionRunningError, PackWriteError, UnindexedPacksError } from './errors.ts'
export { DEFAULT_MAX_UNUSED } from './collection.ts'
export { DEFAULT_FALSE_POSITIVE_RATE } from './bloom.ts'
export type { OpenPackFile, PackFileHandle } from './pack-files.ts'
export { jsonSublevel } from './sublevels.ts'
export type { JsonSublevel, RootDb } from './sublevels.ts'
export { localPackStorage } from './storage.ts'
export type { PackStorage, StorageUsage } from './storage.ts'
export { openS3PackStorage } from './s3/storage.ts'
export { parseS3Url, s3Url } from './s3/options.ts'
export type { S3StorageConfig } from './s3/options.ts'
export { ObjectStoreError, PrefixLockedError } from './s3/errors.ts'
