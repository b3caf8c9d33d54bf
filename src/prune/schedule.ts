import { nextCronRun, parseCron } from '../rules/calendar.ts'
import { InvalidInputError, StoppingError } from '../errors.ts'

/** The daemon prunes at 03:30 local time by default (config.json `prune.schedule`). */
export const DEFAULT_PRUNE_SCHEDULE = '30 3 * * *'

/** setTimeout takes at most 2^31 - 1 ms: longer waits are re-armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1

export interface PruneScheduleOptions {
  /** a cron expression (5 or 6 fields, local time), or null: never by itself */
  schedule: string | null
  /** one prune; its events (finished, failed) are its own */
  run: (signal: AbortSignal) => Promise<unknown>
  /** tests pass a clock of their own */
  clock?: { now: () => number, setTimer: (fn: () => void, ms: number) => unknown, clearTimer: (timer: unknown) => void }
}

const realClock = {
  now: () => Date.now(),
  setTimer: (fn: () => void, ms: number) => setTimeout(fn, ms).unref(),
  clearTimer: (timer: unknown) => { clearTimeout(timer as NodeJS.Timeout) }
}

/**
 * Runs prune on the daemon's schedule. A run that comes due while another prune is running (a
 * manual one, or the previous run) is skipped: the next one comes at its time. `stop` aborts a
 * run in progress at its next step (every step of a prune is crash-safe) and waits for it.
 */
export class PruneSchedule {
  readonly #options: PruneScheduleOptions
  readonly #clock: NonNullable<PruneScheduleOptions['clock']>
  #timer: unknown
  #running: Promise<void> | undefined
  #abort: AbortController | undefined
  #stopped = false
  /** runs started by the schedule (for tests and the status) */
  runs = 0

  constructor (options: PruneScheduleOptions) {
    if (options.schedule !== null) checkPruneSchedule(options.schedule)
    this.#options = options
    this.#clock = options.clock ?? realClock
  }

  start (): void {
    this.#arm()
  }

  /** The next time a prune is due, or null when the schedule is off. */
  next (): Date | null {
    const schedule = this.#options.schedule
    return schedule === null ? null : nextCronRun(schedule, new Date(this.#clock.now()))
  }

  async stop (): Promise<void> {
    this.#stopped = true
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer)
    this.#timer = undefined
    this.#abort?.abort(new StoppingError('the Core is stopping'))
    await this.#running
  }

  #arm (): void {
    if (this.#stopped) return
    const next = this.next()
    if (next === null) return
    const at = next.getTime()
    const step = (): void => {
      const wait = at - this.#clock.now()
      this.#timer = this.#clock.setTimer(() => {
        if (wait > MAX_TIMER_MS) step()
        else this.#fire()
      }, Math.max(0, Math.min(wait, MAX_TIMER_MS)))
    }
    step()
  }

  #fire (): void {
    this.#timer = undefined
    if (this.#stopped) return
    if (this.#running === undefined) {
      this.runs++
      const abort = new AbortController()
      this.#abort = abort
      // its failures are events of the run itself; the schedule goes on
      this.#running = this.#options.run(abort.signal).then(() => {}, () => {}).finally(() => {
        this.#running = undefined
        this.#abort = undefined
      })
    }
    this.#arm()
  }
}

/** Throws a one-line `InvalidInputError` for a schedule that is not a cron expression. */
export function checkPruneSchedule (schedule: string): void {
  try {
    parseCron(schedule)
  } catch (err) {
    throw new InvalidInputError(`prune.schedule "${schedule}" is not a cron expression (${(err as Error).message}); use 5 fields, e.g. "${DEFAULT_PRUNE_SCHEDULE}", or null to prune only when asked`)
  }
}
