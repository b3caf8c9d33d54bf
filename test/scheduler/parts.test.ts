import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { RuleRecord } from '../../src/rules/index.ts'
import { MAX_TIMER_MS } from '../../src/scheduler/constants.ts'
import { triggerOutcome, wakeAsksForJob } from '../../src/scheduler/decide.ts'
import { JobQueue } from '../../src/scheduler/job-queue.ts'
import { Quiescence } from '../../src/scheduler/quiescence.ts'
import { formatDelay, retryDelay } from '../../src/scheduler/retry.ts'
import { newJob, newSlot } from '../../src/scheduler/slot.ts'
import { Timers } from '../../src/scheduler/timers.ts'
import { at, ManualClock } from './harness.ts'

/** The scheduler's parts on their own; scheduler.test.ts checks them wired together. */

function rule (r: Partial<RuleRecord> = {}): RuleRecord {
  return {
    machine: 'web01',
    to: 'peer-b',
    schedule: 'after-backup',
    window: null,
    paused: false,
    seedDrive: false,
    seedPoints: [],
    seedState: null,
    limit: null,
    createdAt: at(1).toISOString(),
    state: 'idle',
    lastPoint: null,
    bytesSent: 0,
    error: null,
    lastRunAt: null,
    lastSuccessAt: null,
    ...r
  }
}

describe('scheduler decisions', { timeout: 10_000 }, () => {
  it('waking an after-backup rule always asks for a job; a cron rule only when a run was missed or its last job did not end well', () => {
    assert.equal(wakeAsksForJob(rule(), at(12)), true)
    const nightly = { schedule: '0 3 * * *', createdAt: at(1, 0, 0, 24).toISOString() }
    assert.equal(wakeAsksForJob(rule({ ...nightly, lastRunAt: at(3).toISOString() }), at(12)), false, 'ran at 03:00 today')
    assert.equal(wakeAsksForJob(rule({ ...nightly, lastRunAt: at(3, 0, 0, 24).toISOString() }), at(12)), true, 'missed 03:00 today')
    assert.equal(wakeAsksForJob(rule({ ...nightly, lastRunAt: at(3).toISOString(), state: 'error' }), at(12)), true, 'its last job failed')
    assert.equal(wakeAsksForJob(rule({ ...nightly, lastRunAt: at(3).toISOString(), state: 'running' }), at(12)), true, 'its last job was cut short')
  })

  it('a trigger is ignored while the rule is paused, its target has not approved, or a retry is armed; it runs once more after a running job; it waits for the window', () => {
    const slot = newSlot('k', 'web01', 'peer-b')
    assert.equal(triggerOutcome(rule(), slot, 'backup', true, at(12)), 'queue')
    assert.equal(triggerOutcome(rule({ paused: true }), slot, 'backup', true, at(12)), 'ignore')
    assert.equal(triggerOutcome(rule(), slot, 'backup', false, at(12)), 'ignore')
    assert.equal(triggerOutcome(rule({ window: '22:00-06:00' }), slot, 'backup', true, at(12)), 'wait-for-window')
    assert.equal(triggerOutcome(rule({ window: '22:00-06:00' }), slot, 'backup', true, at(23)), 'queue')
    slot.retry = { handle: undefined, at: at(13).getTime() }
    assert.equal(triggerOutcome(rule(), slot, 'backup', true, at(12)), 'ignore', 'the retry will send it')
    assert.equal(triggerOutcome(rule(), slot, 'retry', true, at(12)), 'queue')
    slot.retry = undefined
    slot.job = newJob([], at(12).getTime())
    assert.equal(triggerOutcome(rule(), slot, 'backup', true, at(12)), 'again')
  })

  it('retries wait the delays in order, the last one repeating; delays read as people write them', () => {
    assert.deepEqual([1, 2, 3, 4, 9].map(n => retryDelay([30_000, 120_000, 600_000], n)), [30_000, 120_000, 600_000, 600_000, 600_000])
    assert.deepEqual([500, 30_000, 119_000, 600_000].map(formatDelay), ['500 ms', '30 s', '119 s', '10 min'])
  })
})

describe('the job queue', { timeout: 10_000 }, () => {
  it('hands out jobs first come first served while places are free; a slot is queued once and not while its job runs', () => {
    const queue = new JobQueue(2)
    const [a, b, c] = ['a', 'b', 'c'].map(k => newSlot(k, k, 'peer'))
    assert.equal(queue.busy, false)
    assert.equal(queue.add(a), true)
    assert.equal(queue.add(a), false)
    queue.add(b)
    queue.add(c)
    assert.equal(queue.next(), a)
    queue.started()
    assert.equal(queue.next(), b)
    queue.started()
    assert.equal(queue.next(), undefined, 'two places, both taken')
    assert.equal(c.queued, true)
    queue.ended()
    assert.equal(queue.next(), c)
    assert.equal(c.queued, false)
    c.job = newJob([], 0)
    assert.equal(queue.add(c), false, 'its job runs')
    queue.add(a)
    queue.remove(a)
    queue.started()
    assert.equal(queue.next(), undefined)
    queue.ended()
    queue.ended()
    queue.ended()
    assert.equal(queue.busy, false)
  })
})

describe('timers and quiet', { timeout: 10_000 }, () => {
  it('a timer further away than the longest setTimeout is re-armed in steps and fires at its time, once', async () => {
    const clock = new ManualClock(at(12))
    const timers = new Timers(clock)
    const due = at(12).getTime() + 2 * MAX_TIMER_MS + 1000
    const fired: number[] = []
    const slot = newSlot('k', 'web01', 'peer')
    slot.retry = timers.at(due, () => fired.push(clock.now()))
    slot.window = timers.at(at(13).getTime(), () => fired.push(-1))
    assert.equal(clock.pending.length, 2)
    timers.clear(slot, 'window')
    await clock.advanceTo(new Date(due - 1), async () => {})
    assert.deepEqual(fired, [])
    await clock.advanceTo(new Date(due + 10 * MAX_TIMER_MS), async () => {})
    assert.deepEqual(fired, [due])
    assert.equal(slot.window, undefined)
  })

  it('idle waits for the work being decided and for the jobs; a failed piece of work is handed on', async () => {
    let jobs = false
    const quiet = new Quiescence(() => jobs)
    await quiet.idle()
    let finish!: () => void
    const failures: unknown[] = []
    quiet.run(async () => { await new Promise<void>(resolve => { finish = resolve }) }, err => failures.push(err))
    quiet.run(async () => { throw new Error('store failed') }, err => failures.push(err))
    let idle = false
    const waiting = quiet.idle().then(() => { idle = true })
    jobs = true
    finish()
    await new Promise(resolve => setImmediate(resolve))
    assert.equal(idle, false, 'a job still runs')
    jobs = false
    quiet.settle()
    await waiting
    assert.deepEqual(failures.map(e => (e as Error).message), ['store failed'])
  })
})
