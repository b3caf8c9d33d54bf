/**
 * How often a long operation (backup, restore, seed create and consume) reports progress at
 * most, and how often the daemon streams it to a client: enough for a bar that moves smoothly.
 */
export const PROGRESS_INTERVAL_MS = 100

/**
 * Lets calls through at most once per `intervalMs`: the first call passes, a forced one (the
 * last report of an operation, say) always does, and each that passes starts the interval again.
 * `now` is the clock, in milliseconds (monotonic by default).
 */
export class Throttle {
  readonly #intervalMs: number
  readonly #now: () => number
  #last = -Infinity

  constructor (intervalMs = PROGRESS_INTERVAL_MS, now: () => number = () => performance.now()) {
    this.#intervalMs = intervalMs
    this.#now = now
  }

  /** Whether a call may go through now; when it may, the interval starts again. */
  ready (force = false): boolean {
    const now = this.#now()
    if (!force && now - this.#last < this.#intervalMs) return false
    this.#last = now
    return true
  }
}

/**
 * `report`, called at most once per `intervalMs` (see `Throttle`) and always when `force`; a
 * no-op when there is no `report`.
 */
export function throttled<T> (report: ((value: T) => void) | undefined, intervalMs: number = PROGRESS_INTERVAL_MS, now?: () => number): (value: T, force?: boolean) => void {
  if (report === undefined) return () => {}
  const throttle = new Throttle(intervalMs, now)
  return (value, force = false) => { if (throttle.ready(force)) report(value) }
}
