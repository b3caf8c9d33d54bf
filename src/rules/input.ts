/**
 * The checks of a rule's options as an operator gives them (`drcore replication add`), each a
 * one-line `UsageError` naming the option.
 */
import type { Cron } from 'croner'
import { parseSize } from '../common/sizes.ts'
import { UsageError } from '../errors.ts'
import { isMachineName } from '../points/manifest.ts'
import { AFTER_BACKUP, parseCron, parseWindow } from './calendar.ts'

/**
 * Checks `--schedule`: `after-backup`, or a cron expression of 5 fields (minute precision) or 6
 * (seconds first), in local time, that fires at least once. Returns it with single spaces.
 */
export function checkSchedule (text: string): string {
  const schedule = text.trim().split(/\s+/).join(' ')
  if (schedule === AFTER_BACKUP) return schedule
  const fields = schedule.split(' ').length
  if (fields !== 5 && fields !== 6) {
    throw new UsageError(`--schedule: "${text}" is neither after-backup nor a cron expression: one has 5 fields (minute hour day-of-month month day-of-week, e.g. "0 2 * * *") or 6 (seconds first), not ${fields}`)
  }
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

/** The slowest `--limit` accepted: below it a single 1 MiB block would take over 15 minutes. */
export const MIN_RATE = 1024

/**
 * `--limit RATE`: bytes per second, with an optional binary multiple K, M, G or T (`512K` is
 * 524,288 bytes/s, `10M` is 10 MiB/s); `B`, `iB` and `/s` may follow (`10MiB/s`).
 */
export function parseRate (text: string): number {
  const bytes = parseSize(text, { perSecond: true })
  if (bytes === undefined) throw new UsageError(`--limit: not a rate: "${text}" (bytes per second, e.g. 512K, 10M, 1G)`)
  const rate = Math.round(bytes)
  if (rate < MIN_RATE) throw new UsageError(`--limit: ${text} is below the lowest rate, 1K (1024 bytes per second)`)
  return rate
}

/**
 * A rule's machine: `web01`, or `tenant/web01` / `origin/web01` / `/web01` when this Core holds
 * machines of that name from several places (the grammar of `drcore points`).
 */
export function checkRuleMachine (text: string): string {
  const slash = text.lastIndexOf('/')
  const name = text.slice(slash + 1)
  const qualifier = slash < 0 ? '' : text.slice(0, slash)
  if (!isMachineName(name) || qualifier.length > 128 || /[\p{Cc}/]/u.test(qualifier)) {
    throw new UsageError(`not a machine name: ${JSON.stringify(text)} (a machine, or TENANT/MACHINE)`)
  }
  return text
}

/** `--streams`: the most streams one job opens per point. */
export const MAX_STREAMS = 16
/** Streams per job when `--streams` is not given (docs/cli.md says what was measured). */
export const DEFAULT_STREAMS = 1

/** `--streams N`: an integer from 1 to MAX_STREAMS. */
export function parseStreams (text: string | number): number {
  const n = typeof text === 'number' ? text : /^\s*\d+\s*$/.test(text) ? Number(text) : NaN
  if (!Number.isInteger(n) || n < 1 || n > MAX_STREAMS) {
    throw new UsageError(`--streams: "${text}" is not a number of streams; give an integer from 1 to ${MAX_STREAMS}`)
  }
  return n
}
