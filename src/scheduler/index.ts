/**
 * When replication jobs run: triggers (after backup, after verify, after a point arrives that a
 * rule forwards, cron schedules, daily start windows, pause/resume, now), one job per rule at a
 * time, a global concurrency limit, retries with backoff, and each rule's state. The jobs
 * themselves are the replication engine's (src/replication/engine.ts). docs/replication.md
 * describes the behaviour for operators.
 *
 * scheduler.ts is the facade that wires the rest: decide.ts (whether a wake or a trigger asks
 * for a job), job-queue.ts (the concurrency limit), job-runner.ts (one job, from its start on
 * record to its outcome on record), slot.ts (each rule's state), timers.ts (windows, retries and
 * cron runs on an injectable clock), retry.ts (backoff), quiescence.ts (when all is idle),
 * removed.ts (what counts as a removed rule), matching.ts (which rules send a machine),
 * permission.ts (whether this Core may send to a peer).
 */
export { ReplicationScheduler } from './scheduler.ts'
export type { SchedulerOptions, TriggerReason } from './scheduler.ts'
export type { Clock, JobResult, JobProgress, PointReceived, ReplicationJobs, RuleActivity, SchedulerEvents, SchedulerPeers } from './api.ts'
export { DEFAULT_CONCURRENCY, DEFAULT_RETRY_DELAYS_MS, RETRY_DELAYS_ENV, parseDelays } from './constants.ts'
export { namesMachine, rulesSending } from './matching.ts'
export { whyCannotSend } from './permission.ts'
