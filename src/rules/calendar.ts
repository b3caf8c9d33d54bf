/**
 * When a rule may run: its schedule (`after-backup` or a cron expression) and its daily start
 * window, both in local time. The scheduler arms its timers from these; rule input checks them.
 */
import { Cron } from 'croner'
import { InvalidInputError } from '../errors.ts'

/** The default schedule: a job after every backup (and verify, and point received to forward). */
export const AFTER_BACKUP = 'after-backup'

export function isCronSchedule (schedule: string): boolean {
  return schedule !== AFTER_BACKUP
}

const WINDOW = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$/

export function parseWindow (text: string): { start: number, end: number } {
  const m = WINDOW.exec(text)
  if (m == null) throw new InvalidInputError(`not a window: "${text}" (use HH:MM-HH:MM, e.g. 22:00-06:00)`)
  return { start: Number(m[1]) * 60 + Number(m[2]), end: Number(m[3]) * 60 + Number(m[4]) }
}

/** true when `date` (local time) falls inside the daily window; a window may wrap midnight */
export function inWindow (window: string | null, date = new Date()): boolean {
  if (window == null) return true
  const { start, end } = parseWindow(window)
  const now = date.getHours() * 60 + date.getMinutes()
  return start <= end ? now >= start && now < end : now >= start || now < end
}

/** The first time the cron schedule fires strictly after `after`, or null if never again. */
export function nextCronRun (schedule: string, after: Date): Date | null {
  return parseCron(schedule).nextRun(after)
}

/** The last time the cron schedule fired at or before `at`, or null if it never did. */
export function lastCronRun (schedule: string, at: Date): Date | null {
  return parseCron(schedule).previousRuns(1, new Date(at.getTime() + 1))[0] ?? null
}

/** The next time (after `after`, local time) a daily window `HH:MM-HH:MM` opens. */
export function nextWindowStart (window: string, after: Date): Date {
  const { start } = parseWindow(window)
  const at = new Date(after)
  at.setHours(Math.floor(start / 60), start % 60, 0, 0)
  // setDate keeps the wall-clock time across a daylight-saving change, adding 24 h would not
  while (at.getTime() <= after.getTime()) at.setDate(at.getDate() + 1)
  return at
}

/** A cron expression of 5 or 6 fields, never started (croner throws on a bad one). */
export function parseCron (schedule: string): Cron {
  return new Cron(schedule, { paused: true, mode: '5-or-6-parts' })
}
