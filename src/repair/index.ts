export { repair } from './repair.ts'
export type { RepairDeps, RepairOptions } from './repair.ts'
export type { PeerAsked, RepairedPoint, RepairReport } from './api.ts'
