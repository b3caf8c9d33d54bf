import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { PruneSchedule } from '../../src/prune/index.ts'

/** A clock the test moves: timers fire when `advance` passes their time. */
class FakeClock {
  time: number
  timers: Array<{ at: number, fn: () => void }> = []
  constructor (iso: string) { this.time = Date.parse(iso) }
  now = (): number => this.time
  setTimer = (fn: () => void, ms: number): unknown => {
    const timer = { at: this.time + ms, fn }
    this.timers.push(timer)
    return timer
  }

  clearTimer = (timer: unknown): void => { this.timers = this.timers.filter(t => t !== timer) }
  async advance (ms: number): Promise<void> {
    this.time += ms
    for (const t of this.timers.filter(t => t.at <= this.time)) {
      this.clearTimer(t)
      t.fn()
    }
    await new Promise(resolve => setImmediate(resolve))
  }
}

describe('the daemon\'s prune schedule', { timeout: 10_000 }, () => {
  it('prunes when the cron expression says, skips a run while one is going, and stop aborts the run in progress', async () => {
    // local time: the cron fields are local, so the clock starts at a local midnight
    const midnight = new Date(2026, 0, 1, 0, 0, 0).toISOString()
    const clock = new FakeClock(midnight)
    const runs: AbortSignal[] = []
    let finish: (() => void) | undefined
    const schedule = new PruneSchedule({
      schedule: '30 3 * * *',
      clock,
      run: async signal => {
        runs.push(signal)
        await new Promise<void>(resolve => { finish = resolve; signal.addEventListener('abort', () => { resolve() }) })
      }
    })
    schedule.start()
    assert.equal(schedule.next()?.getTime(), new Date(2026, 0, 1, 3, 30).getTime())
    await clock.advance(3 * 3600_000 + 29 * 60_000)
    assert.equal(runs.length, 0, 'not before 03:30')
    await clock.advance(60_000)
    assert.equal(runs.length, 1, 'at 03:30')
    // still running a day later: that run is skipped
    await clock.advance(24 * 3600_000)
    assert.equal(runs.length, 1)
    finish?.()
    await new Promise(resolve => setImmediate(resolve))
    await clock.advance(24 * 3600_000)
    assert.equal(runs.length, 2, 'the next day, once the first ended')
    await schedule.stop()
    assert.equal(runs[1].aborted, true, 'stop aborts the run in progress')
    await clock.advance(24 * 3600_000)
    assert.equal(runs.length, 2, 'nothing after stop')
  })

  it('a null schedule never prunes by itself', async () => {
    const clock = new FakeClock('2026-01-01T00:00:00Z')
    let runs = 0
    const schedule = new PruneSchedule({ schedule: null, clock, run: async () => { runs++ } })
    schedule.start()
    assert.equal(schedule.next(), null)
    await clock.advance(7 * 24 * 3600_000)
    assert.equal(runs, 0)
    await schedule.stop()
  })
})
