import { isZero, subtract } from './duration.ts'
import type { Duration } from './duration.ts'

/**
 * Which points to keep (restic's `forget` policy). Counts keep the newest point of each of the
 * last n hours/days/weeks/months/years that have points (calendar boundaries, weeks Monday to
 * Sunday), or the n newest points (`last`); -1 means all. `within` keeps every point made within
 * that duration of the newest one. A point is kept when any rule keeps it; while a count rule has
 * counts left, the oldest point is kept too (so the history is as long as the counts allow).
 */
export interface RetentionPolicy {
  last?: number
  hourly?: number
  daily?: number
  weekly?: number
  monthly?: number
  yearly?: number
  within?: Duration
}

export const COUNT_RULES = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const
export type CountRule = typeof COUNT_RULES[number]

export interface Decision<T> {
  keep: Array<{ item: T, reasons: string[] }>
  remove: T[]
}

export interface ApplyOptions {
  /** the clock: points "in the future" do not count as the newest (default: now) */
  now?: number
  /** the zone calendar buckets are cut in (default: this process's local zone) */
  timeZone?: string
  /**
   * keep the oldest point while a count rule has counts left (restic 0.15 and later; default
   * true). restic 0.14, the version Debian ships, did not: the tests compare with it this way.
   */
  keepOldest?: boolean
}

export function isEmptyPolicy (p: RetentionPolicy): boolean {
  return COUNT_RULES.every(rule => (p[rule] ?? 0) === 0) && (p.within === undefined || isZero(p.within))
}

/**
 * Applies `policy` to `items`, each dated by `timeOf` (ms since the epoch). Returns what to keep,
 * newest first with the reasons, and what to remove. An empty policy keeps everything.
 */
export function applyPolicy<T> (items: readonly T[], timeOf: (item: T) => number, policy: RetentionPolicy, options: ApplyOptions = {}): Decision<T> {
  // newest first; a stable sort keeps the given order among equal times
  const list = items.map((item, i) => ({ item, time: timeOf(item), i })).sort((a, b) => b.time - a.time || a.i - b.i)
  if (isEmptyPolicy(policy) || list.length === 0) return { keep: list.map(({ item }) => ({ item, reasons: ['policy is empty'] })), remove: [] }

  const bucketOf = bucketFunctions(options.timeZone)
  const keepOldest = options.keepOldest ?? true
  const counters = COUNT_RULES.map(rule => ({ rule, left: policy[rule] ?? 0, last: undefined as number | undefined }))
  const now = options.now ?? Date.now()
  const newest = list.reduce((found, { time }) => time > found && time < now ? time : found, Number.NEGATIVE_INFINITY)
  const withinSince = policy.within !== undefined && !isZero(policy.within) ? subtract(newest, policy.within) : undefined

  const decision: Decision<T> = { keep: [], remove: [] }
  for (const [nr, { item, time }] of list.entries()) {
    const reasons: string[] = []
    if (withinSince !== undefined && time > withinSince) reasons.push('within')
    for (const counter of counters) {
      if (counter.left === 0) continue
      const bucket = counter.rule === 'last' ? nr : bucketOf[counter.rule](time)
      // the oldest point is kept too while counts are left: the longest history they allow
      if (bucket !== counter.last || (keepOldest && nr === list.length - 1)) {
        counter.last = bucket
        if (counter.left > 0) counter.left--
        reasons.push(counter.rule === 'last' ? 'last' : `${counter.rule}`)
      }
    }
    if (reasons.length > 0) decision.keep.push({ item, reasons })
    else decision.remove.push(item)
  }
  return decision
}

type Bucket = (time: number) => number

/** Calendar buckets in `timeZone`: YYYYMMDDHH, YYYYMMDD, ISO YYYYWW, YYYYMM, YYYY. */
function bucketFunctions (timeZone: string | undefined): Record<Exclude<CountRule, 'last'>, Bucket> {
  const format = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', hourCycle: 'h23' })
  const parts = (time: number): { y: number, m: number, d: number, h: number } => {
    const p: Record<string, number> = {}
    for (const { type, value } of format.formatToParts(time)) if (type !== 'literal') p[type] = Number(value)
    return { y: p.year, m: p.month, d: p.day, h: p.hour }
  }
  return {
    hourly: t => { const { y, m, d, h } = parts(t); return ((y * 100 + m) * 100 + d) * 100 + h },
    daily: t => { const { y, m, d } = parts(t); return (y * 100 + m) * 100 + d },
    weekly: t => { const { y, m, d } = parts(t); return isoWeek(y, m, d) },
    monthly: t => { const { y, m } = parts(t); return y * 100 + m },
    yearly: t => parts(t).y
  }
}

/** The ISO 8601 week of a calendar date, as YYYYWW (weeks run Monday to Sunday). */
export function isoWeek (year: number, month: number, day: number): number {
  const date = new Date(Date.UTC(year, month - 1, day))
  const weekday = date.getUTCDay() === 0 ? 7 : date.getUTCDay()
  // the Thursday of this week decides which year the week belongs to
  date.setUTCDate(date.getUTCDate() + 4 - weekday)
  const weekYear = date.getUTCFullYear()
  const firstDay = Date.UTC(weekYear, 0, 1)
  const week = Math.ceil(((date.getTime() - firstDay) / 86_400_000 + 1) / 7)
  return weekYear * 100 + week
}
