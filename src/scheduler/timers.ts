import type { Clock } from './api.ts'
import { MAX_TIMER_MS } from './constants.ts'
import type { Slot, Timer } from './slot.ts'

/** The process's clock; its timers do not keep the process alive. */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimer: timer => { clearTimeout(timer as NodeJS.Timeout) }
}

/** The three timers a rule may have: its window opening, its retry, its next cron run. */
export type SlotTimer = 'window' | 'retry' | 'cron'

/** Timers at absolute times on the scheduler's clock, and the clearing of a rule's. */
export class Timers {
  readonly clock: Clock

  constructor (clock: Clock) {
    this.clock = clock
  }

  now (): number {
    return this.clock.now()
  }

  /** A timer that fires at `at`, re-armed in steps past the longest setTimeout. */
  at (at: number, fire: () => void): Timer {
    const timer: Timer = { handle: undefined, at }
    const arm = (): void => {
      const wait = at - this.clock.now()
      timer.handle = this.clock.setTimer(() => { if (wait > MAX_TIMER_MS) arm(); else fire() }, Math.max(0, Math.min(wait, MAX_TIMER_MS)))
    }
    arm()
    return timer
  }

  clear (slot: Slot, which: SlotTimer): void {
    const timer = slot[which]
    if (timer != null) this.clock.clearTimer(timer.handle)
    slot[which] = undefined
  }

  clearAll (slot: Slot): void {
    this.clear(slot, 'window')
    this.clear(slot, 'retry')
    this.clear(slot, 'cron')
  }
}
