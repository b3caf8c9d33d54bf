/**
 * When replication jobs run: triggers (after backup, after verify, after a point arrives that a
 * rule forwards, cron schedules, daily start windows, pause/resume, now), one job per rule at a
 * time, a global concurrency limit, retries with backoff, and each rule's state. The jobs
 * themselves are the replication engine's (src/replication/engine.ts). docs/replication.md
 * describes the behaviour for operators.
 */
export { ReplicationScheduler } from './scheduler.ts'
export type { SchedulerOptions, TriggerReason } from './scheduler.ts'
export type { Clock, JobResult, JobProgress, PointReceived, ReplicationJobs, RuleActivity, SchedulerEvents, SchedulerPeers } from './api.ts'
export { DEFAULT_CONCURRENCY, DEFAULT_RETRY_DELAYS_MS, RETRY_DELAYS_ENV, parseDelays } from './constants.ts'
export { namesMachine, rulesSending } from './matching.ts'
export { whyCannotSend } from './permission.ts'
