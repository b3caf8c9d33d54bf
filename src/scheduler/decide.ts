import { inWindow, isCronSchedule, lastCronRun } from '../rules/index.ts'
import type { RuleRecord } from '../rules/index.ts'
import type { Slot, TriggerReason } from './slot.ts'

/**
 * Whether waking a rule (start, resume, a new rule, an approval) asks for a job: always for an
 * after-backup rule; for a cron rule only when a scheduled run was missed, or its last job
 * failed or was cut short (state `error` or `running` on disk).
 */
export function wakeAsksForJob (rule: RuleRecord, now: Date): boolean {
  if (!isCronSchedule(rule.schedule)) return true
  const last = lastCronRun(rule.schedule, now)
  const since = Date.parse(rule.lastRunAt ?? rule.createdAt)
  const missed = last != null && last.getTime() > since
  return missed || rule.state === 'running' || rule.state === 'error'
}

/**
 * What a trigger does to a rule that exists:
 * - `ignore`: the rule is paused (resume wakes it), its target has not approved this Core (the
 *   approval wakes it), or a retry is armed (the retry sends what the trigger would);
 * - `again`: a job runs: run once more when it ends;
 * - `wait-for-window`: outside the rule's window: a job when it opens;
 * - `queue`: a job, as soon as one of the places is free.
 */
export type TriggerOutcome = 'ignore' | 'again' | 'wait-for-window' | 'queue'

export function triggerOutcome (rule: RuleRecord, slot: Slot, reason: TriggerReason, canSend: boolean, now: Date): TriggerOutcome {
  if (rule.paused || !canSend) return 'ignore'
  if (slot.retry != null && reason !== 'retry') return 'ignore'
  if (slot.job != null) return 'again'
  if (!inWindow(rule.window, now)) return 'wait-for-window'
  return 'queue'
}
