/**
 * The block store: content-addressed blocks in zstd-compressed pack files, indexed by LevelDB.
 * Formats in docs/formats.md; crash-safety rules in api.ts.
 */
export type { BlockStore, BlockWriter, IndexOp, StoredBlock, StoreStats, VerifyResult, WriterStats } from './api.ts'
export { openBlockStore } from './block-store.ts'
export type { BlockStoreOptions } from './block-store.ts'
export { rebuildBlockIndex } from './rebuild.ts'
export type { RebuildResult } from './rebuild.ts'
export { BlockIntegrityError, PackWriteError, UnindexedPacksError } from './errors.ts'
export type { OpenPackFile, PackFileHandle } from './pack-files.ts'
export { jsonSublevel } from './sublevels.ts'
export type { JsonSublevel, RootDb } from './sublevels.ts'
