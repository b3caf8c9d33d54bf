/**
 * Replication rules as records (docs/replication.md): "send machine M (or its cluster) to peer
 * P", their store, the checks of their options, their calendar (schedule and window), which
 * points a rule sends (`planRule`), and what a job of a rule reports. Below both the replication
 * engine, which runs jobs, and the scheduler, which decides when.
 */
export type { NewRule, RuleRecord } from './record.ts'
export { RuleNotFoundError, RuleStore } from './store.ts'
export { AFTER_BACKUP, inWindow, isCronSchedule, lastCronRun, nextCronRun, nextWindowStart, parseWindow } from './calendar.ts'
export { checkRuleMachine, checkSchedule, checkWindow, DEFAULT_STREAMS, MAX_STREAMS, MIN_RATE, parseRate, parseStreams } from './input.ts'
export { planRule } from './plan.ts'
export type { PlannedPoint, PlanReason, RulePlan } from './plan.ts'
export type { JobProgress, JobResult, PointReceived } from './jobs.ts'
