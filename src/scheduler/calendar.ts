import { Cron } from 'croner'
import { UsageError } from '../errors.ts'
import { parseWindow } from '../replication/rules.ts'

/** The default schedule: a job after every backup (and verify, and point received to forward). */
export const AFTER_BACKUP = 'after-backup'

export function isCronSchedule (schedule: string): boolean {
  return schedule !== AFTER_BACKUP
}

/**
 * Checks `--schedule`: `after-backup`, or a cron expression of 5 fields (minute precision) or 6
 * (seconds first), in local time, that fires at least once. Returns it with single spaces.
 */
export function checkSchedule (text: string): string {
  const schedule = text.trim().split(/\s+/).join(' ')
  if (schedule === AFTER_BACKUP) return schedule
  let cron: Cron
  try {
    cron = parseCron(schedule)
  } catch (err: any) {
    throw new UsageError(`--schedule: "${text}" is neither after-backup nor a cron expression of 5 or 6 fields (${String(err.message).replace(/^CronPattern: /, '')})`)
  }
  if (cron.nextRun() == null) throw new UsageError(`--schedule: the cron expression "${text}" never fires`)
  return schedule
}

/** Checks `--window HH:MM-HH:MM` (local time, may wrap midnight, start and end differ). */
export function checkWindow (text: string): string {
  let window: { start: number, end: number }
  try {
    window = parseWindow(text)
  } catch (err: any) {
    throw new UsageError(`--window: ${err.message}`)
  }
  if (window.start === window.end) throw new UsageError(`--window: "${text}" starts and ends at the same minute; leave --window out to replicate at any time`)
  return text
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

function parseCron (schedule: string): Cron {
  return new Cron(schedule, { paused: true, mode: '5-or-6-parts' })
}
