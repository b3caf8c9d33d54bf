export type { BlockStore, BlockWriter, IndexOp, StoreStats, VerifyResult, WriterStats } from './api.ts'
export { jsonSublevel } from './sublevels.ts'
export type { JsonSublevel, RootDb } from './sublevels.ts'
