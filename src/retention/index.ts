/**
 * Retention (docs/retention.md): restic's forget policy (policy.ts), durations, standing
 * policies per machine (policies.ts), a point's time and a tenant's lock (lock.ts), and the
 * forget and rollup that apply them (retention.ts).
 */
export { add, formatDuration, parseDuration, subtract } from './duration.ts'
export type { Duration } from './duration.ts'
export { applyPolicy, isEmptyPolicy } from './policy.ts'
export type { RetentionPolicy } from './policy.ts'
export { RetentionPolicies } from './policies.ts'
export type { PolicyRecord } from './policies.ts'
export { lockedPoints, retentionTime } from './lock.ts'
export type { LockedPoints } from './lock.ts'
export { Retention } from './retention.ts'
export type { ForgetResult, KeptPoint, RetentionDeps, RetentionPlan, RetentionRow, RetentionShow } from './retention.ts'
export { describePolicy, policyFromInput, policyOf, viewOf } from './view.ts'
export type { PolicyView } from './view.ts'
