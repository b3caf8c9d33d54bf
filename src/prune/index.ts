/**
 * Garbage collection (docs/retention.md, "Garbage collection"): `prune` marks what every point
 * keeps and sweeps the rest through the store's collection; `PruneSchedule` runs it on the
 * daemon's schedule.
 */
export { prune } from './prune.ts'
export { UnreadablePointsError } from './errors.ts'
export type { PruneDeps, PruneOptions } from './prune.ts'
export type { PruneResult } from './api.ts'
export { blockLinks, hasLinks } from './links.ts'
export { checkPruneSchedule, PruneSchedule, DEFAULT_PRUNE_SCHEDULE } from './schedule.ts'
export type { PruneScheduleOptions } from './schedule.ts'
