import { UsageError } from '../errors.ts'

/**
 * A calendar duration as restic writes it: years, months, days and hours (`2y5m7d3h`, `30d`,
 * `12h`). Months and years are calendar months and years, not a fixed number of days.
 */
export interface Duration {
  years: number
  months: number
  days: number
  hours: number
}

const PART = /(\d+)([ymdh])/g

/** Parses `2y5m7d3h` (any subset, in that order or not); throws `UsageError` naming `what`. */
export function parseDuration (text: string, what = 'duration'): Duration {
  const trimmed = text.trim()
  const duration: Duration = { years: 0, months: 0, days: 0, hours: 0 }
  let consumed = 0
  const seen = new Set<string>()
  for (const match of trimmed.matchAll(PART)) {
    if (match.index !== consumed || seen.has(match[2])) break
    seen.add(match[2])
    consumed += match[0].length
    const n = Number(match[1])
    if (match[2] === 'y') duration.years = n
    else if (match[2] === 'm') duration.months = n
    else if (match[2] === 'd') duration.days = n
    else duration.hours = n
  }
  if (trimmed === '' || consumed !== trimmed.length) {
    throw new UsageError(`invalid ${what} ${JSON.stringify(text)}: write years, months, days and hours such as 1y, 6m, 30d, 12h or 1y6m`)
  }
  return duration
}

export function isZero (d: Duration): boolean {
  return d.years === 0 && d.months === 0 && d.days === 0 && d.hours === 0
}

/** `2y5m7d3h`, leaving out zero parts; `0h` for zero. */
export function formatDuration (d: Duration): string {
  const text = `${d.years > 0 ? `${d.years}y` : ''}${d.months > 0 ? `${d.months}m` : ''}${d.days > 0 ? `${d.days}d` : ''}${d.hours > 0 ? `${d.hours}h` : ''}`
  return text === '' ? '0h' : text
}

/**
 * `time` minus `d`: years, months and days on the calendar (in UTC, as restic's AddDate does in
 * the snapshot's zone; a day is a day either way), then hours.
 */
export function subtract (time: number, d: Duration): number {
  const t = new Date(time)
  t.setUTCFullYear(t.getUTCFullYear() - d.years, t.getUTCMonth() - d.months, t.getUTCDate() - d.days)
  return t.getTime() - d.hours * 3_600_000
}

/** `time` plus `d` (the inverse of `subtract`): when a point received at `time` leaves a lock of `d`. */
export function add (time: number, d: Duration): number {
  return subtract(time, { years: -d.years, months: -d.months, days: -d.days, hours: -d.hours })
}
