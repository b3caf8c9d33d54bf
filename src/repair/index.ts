export { repair } from './repair.ts'
export type { PeerPull, PeerRepair, RepairDeps, RepairOptions } from './repair.ts'
export type { PeerAsked, RepairedPoint, RepairReport } from './api.ts'
