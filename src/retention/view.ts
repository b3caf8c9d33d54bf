import { UsageError } from '../errors.ts'
import type { PolicyView } from '../events/retention.ts'
import { formatDuration, isZero, parseDuration } from './duration.ts'
import { isEmptyPolicy } from './policy.ts'
import type { RetentionPolicy } from './policy.ts'

export type { PolicyView } from '../events/retention.ts'

/** The `--keep-*` flags, in the order they are printed, with the policy rule each sets. */
const COUNTS = [
  ['keepLast', 'last', 'keep-last'],
  ['keepHourly', 'hourly', 'keep-hourly'],
  ['keepDaily', 'daily', 'keep-daily'],
  ['keepWeekly', 'weekly', 'keep-weekly'],
  ['keepMonthly', 'monthly', 'keep-monthly'],
  ['keepYearly', 'yearly', 'keep-yearly']
] as const

/**
 * A policy from the `--keep-*` options (as the operations receive them): counts of at least 1
 * (or -1, restic's "all"), `keepWithin` a duration. Refuses an empty policy in one line: forget
 * with nothing to keep would remove every point.
 */
export function policyFromInput (input: PolicyView, what: string): RetentionPolicy {
  const policy: RetentionPolicy = {}
  for (const [key, rule, flag] of COUNTS) {
    const n = input[key]
    if (n === undefined) continue
    if (!Number.isInteger(n) || (n < 1 && n !== -1)) throw new UsageError(`--${flag} ${n}: give a number of points of at least 1 (or -1 for all)`)
    policy[rule] = n
  }
  if (input.keepWithin !== undefined) {
    policy.within = parseDuration(input.keepWithin, '--keep-within duration')
    if (isZero(policy.within)) throw new UsageError(`--keep-within ${input.keepWithin}: give a duration longer than zero, such as 30d`)
  }
  if (isEmptyPolicy(policy)) {
    throw new UsageError(`${what}: give at least one of --keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly, --keep-within (an empty policy would keep nothing)`)
  }
  return policy
}

/** A policy as the CLI, the API and events show it. */
export function viewOf (policy: RetentionPolicy): PolicyView {
  const view: PolicyView = {}
  for (const [key, rule] of COUNTS) if (policy[rule] !== undefined && policy[rule] !== 0) view[key] = policy[rule]
  if (policy.within !== undefined && !isZero(policy.within)) view.keepWithin = formatDuration(policy.within)
  return view
}

/** The policy a stored view describes. */
export function policyOf (view: PolicyView): RetentionPolicy {
  const policy: RetentionPolicy = {}
  for (const [key, rule] of COUNTS) if (view[key] !== undefined) policy[rule] = view[key]
  if (view.keepWithin !== undefined) policy.within = parseDuration(view.keepWithin)
  return policy
}

/** `keep-last 3, keep-within 30d` */
export function describePolicy (view: PolicyView): string {
  const parts: string[] = []
  for (const [key, , flag] of COUNTS) if (view[key] !== undefined) parts.push(`${flag} ${view[key] === -1 ? 'all' : view[key]}`)
  if (view.keepWithin !== undefined) parts.push(`keep-within ${view.keepWithin}`)
  return parts.length === 0 ? 'no policy' : parts.join(', ')
}
