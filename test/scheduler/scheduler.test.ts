import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { NotAuthorizedError, StoppingError, UserError } from '../../src/errors.ts'
import { at, harness } from './harness.ts'
import type { Harness } from './harness.ts'
import { until } from '../support/wait.ts'

// `until` waits for the scheduler's asynchronous work (LevelDB writes included): bounded by time,
// not by a count of event-loop turns, which a loaded machine can exhaust before the writes land

async function withHarness (options: Parameters<typeof harness>[0], fn: (h: Harness) => Promise<void>): Promise<void> {
  const h = await harness(options)
  try {
    await fn(h)
  } finally {
    await h.close()
  }
}

describe('replication scheduler: triggers', () => {
  it('a backup of the rule\'s machine starts a job; a backup of another machine does not', async () => {
    await withHarness({ now: at(12) }, async h => {
      await h.addRule({ machine: 'web01', to: h.siteB })
      await h.settle()
      assert.deepEqual(h.engine.runs, ['web01->' + h.siteB], 'a new rule runs once at once')
      await h.backup('db01')
      assert.equal(h.engine.jobs.length, 1)
      await h.backup('web01')
      assert.equal(h.engine.jobs.length, 2)
      const rule = await h.rules.get('web01', h.siteB)
      assert.equal(rule.state, 'idle')
      assert.equal(rule.lastRunAt, at(12).toISOString())
    })
  })

  it('a backup of another machine of the cluster runs the rule (a machine brings its cluster)', async () => {
    await withHarness({ now: at(12) }, async h => {
      await h.addPoint({ machine: 'sql01', cluster: 'sqlc' })
      await h.addPoint({ machine: 'sql02', cluster: 'sqlc' })
      await h.addPoint({ machine: 'web01', cluster: null })
      await h.addRule({ machine: 'sql01', to: h.siteB })
      await h.addRule({ machine: 'web01', to: h.siteC })
      await h.settle()
      h.engine.jobs.length = 0
      const sql02 = await h.addPoint({ machine: 'sql02', cluster: 'sqlc' })
      h.scheduler.backedUp(sql02.point)
      await h.settle()
      assert.deepEqual(h.engine.runs, ['sql01->' + h.siteB])
    })
  })

  it('a rule naming tenant/machine runs for that tenant\'s points only', async () => {
    await withHarness({ now: at(12) }, async h => {
      await h.addRule({ machine: 'siteA/web01', to: h.siteC })
      await h.settle()
      h.engine.jobs.length = 0
      const other = await h.addPoint({ machine: 'web01', tenant: 'siteX', origin: h.siteB })
      h.engine.receive({ point: other.point, machine: 'web01', origin: h.siteB, tenant: 'siteX', from: h.siteB })
      await h.settle()
      assert.deepEqual(h.engine.runs, [])
      const mine = await h.addPoint({ machine: 'web01', tenant: 'siteA', origin: h.pending })
      h.engine.receive({ point: mine.point, machine: 'web01', origin: h.pending, tenant: 'siteA', from: h.pending })
      await h.settle()
      assert.deepEqual(h.engine.runs, ['siteA/web01->' + h.siteC])
    })
  })

  it('a received point runs the rules that forward it, never towards the Core it came from or its origin', async () => {
    await withHarness({ now: at(12) }, async h => {
      await h.addRule({ machine: 'web01', to: h.siteB })
      await h.addRule({ machine: 'web01', to: h.siteC })
      await h.addRule({ machine: 'db01', to: h.siteC })
      await h.settle()
      h.engine.jobs.length = 0
      const p = await h.addPoint({ machine: 'web01', tenant: 'siteB', origin: h.siteB })
      h.engine.receive({ point: p.point, machine: 'web01', origin: h.siteB, tenant: 'siteB', from: h.siteB })
      await h.settle()
      assert.deepEqual(h.engine.runs, ['web01->' + h.siteC])
    })
  })

  it('a passing verify runs every after-backup rule; a failed verify runs none', async () => {
    await withHarness({ now: at(12) }, async h => {
      await h.addRule({ machine: 'web01', to: h.siteB })
      await h.addRule({ machine: 'db01', to: h.siteC })
      await h.addRule({ machine: 'mail01', to: h.siteC, schedule: '0 3 * * *' })
      await h.settle()
      h.engine.jobs.length = 0
      h.scheduler.verified({ ok: false })
      await h.settle()
      assert.equal(h.engine.jobs.length, 0)
      h.scheduler.verified({ ok: true })
      await h.settle()
      assert.deepEqual(h.engine.runs.sort(), ['db01->' + h.siteC, 'web01->' + h.siteB].sort())
    })
  })

  it('a seed drive that brought blocks runs the after-backup rules (a relay forwards seeded points)', async () => {
    await withHarness({ now: at(12) }, async h => {
      await h.addRule({ machine: 'web01', to: h.siteB })
      await h.addRule({ machine: 'db01', to: h.siteC, schedule: '0 3 * * *' })
      await h.settle()
      h.engine.jobs.length = 0
      h.scheduler.seedConsumed({ imported: 0 })
      await h.settle()
      assert.equal(h.engine.jobs.length, 0)
      h.scheduler.seedConsumed({ imported: 12 })
      await h.settle()
      assert.deepEqual(h.engine.runs, ['web01->' + h.siteB])
    })
  })

  it('a cron rule runs on its schedule only: not when added, not after a backup', async () => {
    await withHarness({ now: at(12, 0, 30) }, async h => {
      await h.addRule({ machine: 'web01', to: h.siteB, schedule: '*/10 * * * *' })
      await h.backup('web01')
      assert.equal(h.engine.jobs.length, 0)
      await h.advanceTo(at(12, 9, 59))
      assert.equal(h.engine.jobs.length, 0)
      await h.advanceTo(at(12, 10))
      assert.equal(h.engine.jobs.length, 1)
      await h.advanceTo(at(12, 30, 5))
      assert.equal(h.engine.jobs.length, 3, 'at 12:20 and 12:30')
      assert.equal(h.scheduler.activity('web01', h.siteB).nextRunAt, at(12, 40).toISOString())
    })
  })

  it('a changed schedule or window (replication set) moves the rule\'s timers, and starts no job itself', async () => {
    await withHarness({ now: at(12, 0, 30) }, async h => {
      await h.addRule({ machine: 'web01', to: h.siteB, schedule: '*/10 * * * *' })
      await h.settle()
      const changed = await h.rules.update('web01', h.siteB, r => { r.schedule = '45 * * * *' })
      h.scheduler.changed(changed)
      await h.settle()
      assert.equal(h.engine.jobs.length, 0, 'the change runs nothing')
      await h.advanceTo(at(12, 44))
      assert.equal(h.engine.jobs.length, 0, 'the old schedule (12:10, 12:20 ...) is gone')
      await h.advanceTo(at(12, 45))
      assert.equal(h.engine.jobs.length, 1, 'the new one runs')
      // a trigger waiting for a window that is changed to one open now starts at once
      await h.addRule({ machine: 'db01', to: h.siteB, window: '22:00-06:00' })
      await h.backup('db01')
      assert.equal(h.scheduler.activity('db01', h.siteB).waitingForWindow, at(22).toISOString())
      h.scheduler.changed(await h.rules.update('db01', h.siteB, r => { r.window = null }))
      await until(() => h.engine.jobs.some(j => j.rule.machine === 'db01'))
      assert.equal(h.scheduler.activity('db01', h.siteB).waitingForWindow, null)
    })
  })

  it('a trigger outside the window waits for it to open; a job started inside runs past its end', async () => {
    await withHarness({ now: at(12) }, async h => {
      await h.addRule({ machine: 'web01', to: h.siteB, window: '22:00-06:00' })
      await h.backup('web01')
      await h.backup('web01')
      assert.equal(h.engine.jobs.length, 0, 'nothing runs at noon')
      const deferred = h.seen.filter(e => e.type === 'replication.deferred')
      assert.equal(deferred.length, 1, 'one deferral, however many triggers')
      assert.equal(deferred[0].data.opensAt, at(22).toISOString())
      assert.equal(h.scheduler.activity('web01', h.siteB).waitingForWindow, at(22).toISOString())
      h.engine.hold = true
      await h.advanceTo(at(21, 59))
      assert.equal(h.engine.jobs.length, 0)
      await h.clock.advanceTo(at(22), async () => { await until(() => h.engine.jobs.length === 1) })
      assert.equal(h.engine.jobs.length, 1, 'the window opens: one job for all the triggers')
      // the job outlives the window: it is not cut at 06:00
      await h.clock.advanceTo(at(7, 0, 0, 26), async () => {})
      assert.equal(h.engine.open.length, 1)
      assert.equal(h.engine.jobs[0].signal?.aborted, false)
      h.engine.open[0].finish({ bytesSent: 10 })
      await h.settle()
      // a backup now, outside the window again, waits for 22:00 on the 26th
      h.engine.hold = false
      await h.backup('web01')
      assert.equal(h.engine.jobs.length, 1)
      assert.equal(h.scheduler.activity('web01', h.siteB).waitingForWindow, at(22, 0, 0, 26).toISOString())
    })
  })

  it('a window that wraps midnight admits triggers after midnight', async () => {
    await withHarness({ now: at(1, 30) }, async h => {
      await h.addRule({ machine: 'web01', to: h.siteB, window: '22:00-06:00' })
      await h.settle()
      assert.equal(h.engine.jobs.length, 1)
    })
  })
})

describe('replication scheduler: pause, resume, now', () => {
  it('a paused rule starts no job; resume runs what it missed', async () => {
    await withHarness({ now: at(12) }, async h => {
      await h.addRule({ machine: 'web01', to: h.siteB, paused: true })
      await h.backup('web01')
      h.scheduler.verified({ ok: true })
      await h.settle()
      assert.equal(h.engine.jobs.length, 0)
      await assert.rejects(h.scheduler.now('web01', h.siteB), /paused: resume it first \(drcore replication resume web01 --to siteB\)/)
      const resumed = await h.rules.update('web01', h.siteB, r => { r.paused = false })
      h.scheduler.resumed(resumed)
      await h.settle()
      assert.equal(h.engine.jobs.length, 1)
    })
  })

  it('pausing stops the running job at once, counting the bytes that went; resume finishes the work', async () => {
    await withHarness({ now: at(12) }, async h => {
      h.engine.hold = true
      await h.addRule({ machine: 'web01', to: h.siteB })
      await until(() => h.engine.open.length === 1)
      h.engine.open[0].onProgress?.({ point: 'p', machine: 'web01', pointIndex: 1, points: 1, bytesSent: 4096, blocksSent: 2 })
      assert.equal(h.scheduler.activity('web01', h.siteB).running, true)
      assert.equal((await h.rules.get('web01', h.siteB)).state, 'running')
      await h.rules.update('web01', h.siteB, r => { r.paused = true })
      await h.scheduler.paused('web01', h.siteB)
      assert.equal(h.engine.jobs[0].signal?.aborted, true)
      let rule = await h.rules.get('web01', h.siteB)
      assert.equal(rule.state, 'running', 'stored as unfinished work')
      assert.equal(rule.bytesSent, 4096)
      assert.equal(rule.error, null)
      assert.equal(h.scheduler.activity('web01', h.siteB).running, false)
      h.engine.hold = false
      await h.backup('web01')
      assert.equal(h.engine.jobs.length, 1)
      rule = await h.rules.update('web01', h.siteB, r => { r.paused = false })
      h.scheduler.resumed(rule)
      await h.settle()
      assert.equal(h.engine.jobs.length, 2)
      assert.equal((await h.rules.get('web01', h.siteB)).state, 'idle')
    })
  })

  it('now runs at once outside the window and the schedule, reports progress and resolves with the outcome', async () => {
    await withHarness({ now: at(12) }, async h => {
      await h.addRule({ machine: 'web01', to: h.siteB, window: '01:00-02:00', schedule: '0 3 * * *' })
      await h.settle()
      assert.equal(h.engine.jobs.length, 0)
      h.engine.hold = true
      const seen: number[] = []
      const { outcome } = await h.scheduler.now('web01', h.siteB, p => seen.push(p.bytesSent))
      await until(() => h.engine.open.length === 1)
      h.engine.open[0].onProgress?.({ point: 'p1', machine: 'web01', pointIndex: 1, points: 1, bytesSent: 100, blocksSent: 1 })
      h.engine.open[0].finish({ bytesSent: 150, sent: ['p1'], lastPoint: 'p1' })
      const result = await outcome
      assert.deepEqual(result.sent, ['p1'])
      assert.deepEqual(seen, [100])
      const live = h.seen.filter(e => e.type === 'replication.progress')
      assert.deepEqual(live.map(e => [e.seq, e.data.machine, e.data.to, e.data.bytesSent, e.data.done]), [[0, 'web01', h.siteB, 100, false], [0, 'web01', h.siteB, 100, true]])
      const rule = await h.rules.get('web01', h.siteB)
      assert.equal(rule.bytesSent, 150)
      assert.equal(rule.lastPoint, 'p1')
      assert.equal(rule.lastSuccessAt, at(12).toISOString())
    })
  })

  it('now during a job follows it with a new job, and watches both', async () => {
    await withHarness({ now: at(12) }, async h => {
      h.engine.hold = true
      await h.addRule({ machine: 'web01', to: h.siteB })
      await until(() => h.engine.open.length === 1)
      const seen: string[] = []
      const { outcome } = await h.scheduler.now('web01', h.siteB, p => seen.push(p.point))
      h.engine.open[0].onProgress?.({ point: 'first', machine: 'web01', pointIndex: 1, points: 1, bytesSent: 1, blocksSent: 1 })
      h.engine.open[0].finish({ lastPoint: 'first' })
      await until(() => h.engine.open.length === 1 && h.engine.jobs.length === 2)
      h.engine.open[0].onProgress?.({ point: 'second', machine: 'web01', pointIndex: 1, points: 1, bytesSent: 1, blocksSent: 1 })
      h.engine.open[0].finish({ lastPoint: 'second' })
      assert.equal((await outcome).lastPoint, 'second')
      assert.deepEqual(seen, ['first', 'second'])
    })
  })

  it('a rule to a peer that has not approved this Core waits; now says why; the approval starts it', async () => {
    await withHarness({ now: at(12) }, async h => {
      await h.addRule({ machine: 'web01', to: h.pending })
      await h.backup('web01')
      assert.equal(h.engine.jobs.length, 0)
      await assert.rejects(h.scheduler.now('web01', h.pending), (err: Error) => {
        // this Core is not allowed to send there (yet): 403 through the API, exit 1 in the CLI
        assert.ok(err instanceof NotAuthorizedError)
        assert.equal(err.message, 'cannot replicate web01 to siteP: siteP has not approved this Core yet')
        return true
      })
      await h.peers.answered(h.pending, 'approved')
      await h.settle()
      assert.deepEqual(h.engine.runs, ['web01->' + h.pending])
    })
  })
})

describe('replication scheduler: jobs', () => {
  it('one job per rule at a time: triggers during a job make exactly one follow-up', async () => {
    await withHarness({ now: at(12) }, async h => {
      h.engine.hold = true
      await h.addRule({ machine: 'web01', to: h.siteB })
      await until(() => h.engine.open.length === 1)
      for (let i = 0; i < 3; i++) {
        const p = await h.addPoint({ machine: 'web01' })
        h.scheduler.backedUp(p.point)
      }
      await new Promise(resolve => setTimeout(resolve, 20))
      assert.equal(h.engine.jobs.length, 1)
      h.engine.hold = false
      h.engine.open[0].finish()
      await h.settle()
      assert.equal(h.engine.jobs.length, 2)
      assert.equal(h.engine.maxRunning, 1)
    })
  })

  it('at most two jobs run at once; the others wait their turn', async () => {
    await withHarness({ now: at(12) }, async h => {
      h.engine.hold = true
      for (const machine of ['m1', 'm2', 'm3', 'm4']) await h.addRule({ machine, to: h.siteB })
      await until(() => h.engine.jobs.length === 2)
      await new Promise(resolve => setTimeout(resolve, 20))
      assert.equal(h.engine.jobs.length, 2)
      h.engine.open[0].finish()
      await until(() => h.engine.jobs.length === 3)
      h.engine.hold = false
      for (const job of h.engine.open) job.finish()
      await h.settle()
      assert.deepEqual(h.engine.runs.map(r => r.split('->')[0]).sort(), ['m1', 'm2', 'm3', 'm4'])
      assert.equal(h.engine.maxRunning, 2)
    })
  })

  it('a failed job is retried with backoff; the rule reads error with the message until a job succeeds', async () => {
    await withHarness({ now: at(12), retryDelays: [30_000, 120_000, 600_000] }, async h => {
      h.engine.failWith = new UserError('peer siteB: not reachable')
      await h.addRule({ machine: 'web01', to: h.siteB })
      await h.settle()
      let rule = await h.rules.get('web01', h.siteB)
      assert.equal(rule.state, 'error')
      assert.equal(rule.error, 'peer siteB: not reachable')
      assert.equal(h.scheduler.activity('web01', h.siteB).retryAt, at(12, 0, 30).toISOString())
      // a backup during the backoff does not hammer the target: the retry will send it
      await h.backup('web01')
      assert.equal(h.engine.jobs.length, 1)
      await h.advanceTo(at(12, 0, 30))
      assert.equal(h.engine.jobs.length, 2)
      assert.equal(h.scheduler.activity('web01', h.siteB).retryAt, at(12, 2, 30).toISOString())
      await h.advanceTo(at(12, 2, 30))
      assert.equal(h.engine.jobs.length, 3)
      assert.equal(h.scheduler.activity('web01', h.siteB).retryAt, at(12, 12, 30).toISOString())
      await h.advanceTo(at(12, 22, 30))
      assert.equal(h.engine.jobs.length, 5, 'the last delay repeats')
      const retries = h.seen.filter(e => e.type === 'replication.retry')
      assert.deepEqual(retries.map(e => e.data.delayMs), [30_000, 120_000, 600_000, 600_000, 600_000])
      assert.equal(retries[0].level, 'warning')
      h.engine.failWith = undefined
      await h.advanceTo(at(12, 32, 30))
      rule = await h.rules.get('web01', h.siteB)
      assert.equal(rule.state, 'idle')
      assert.equal(rule.error, null)
      assert.equal(h.scheduler.activity('web01', h.siteB).retryAt, null)
      await h.advanceTo(at(14))
      assert.equal(h.engine.jobs.length, 6, 'no retry after a success')
    })
  })

  it('a rule store that fails when a job starts does not stop the rule: it is retried like a failed job', async () => {
    await withHarness({ now: at(12), retryDelays: [30_000] }, async h => {
      await h.addRule({ machine: 'web01', to: h.siteB })
      await h.settle()
      assert.equal(h.engine.jobs.length, 1)
      const failing = failRuleWrites(h, 'IO error: rules.ldb: Input/output error')
      try {
        await h.backup('web01')
        assert.equal(h.engine.jobs.length, 1, 'no job without its start on record')
        assert.equal(h.scheduler.activity('web01', h.siteB).retryAt, at(12, 0, 30).toISOString(), 'not taken for a removed rule')
        const retry = h.seen.filter(e => e.type === 'replication.retry').at(-1)
        assert.ok(retry?.type === 'replication.retry')
        assert.match(retry.data.error, /cannot record the job's start: .*Input\/output error/)
      } finally {
        failing.stop()
      }
      await h.advanceTo(at(12, 0, 30))
      assert.equal(h.engine.jobs.length, 2, 'the retry runs the rule once the store writes again')
      assert.equal((await h.rules.get('web01', h.siteB)).state, 'idle')
    })
  })

  it('a job whose outcome cannot be recorded is reported, and its failure is still retried', async () => {
    await withHarness({ now: at(12), retryDelays: [30_000] }, async h => {
      h.engine.hold = true
      await h.addRule({ machine: 'web01', to: h.siteB })
      await until(() => h.engine.open.length === 1)
      const failing = failRuleWrites(h, 'IO error: rules.ldb: No space left on device')
      try {
        h.engine.open[0].fail(new Error('stream reset'))
        await h.settle()
        assert.equal(h.scheduler.activity('web01', h.siteB).retryAt, at(12, 0, 30).toISOString())
        const reported = h.seen.filter(e => e.type === 'replication.scheduler-error')
        assert.equal(reported.length, 1)
        assert.match(reported[0].message, /could not record the job of web01 to siteB: .*No space left on device/)
      } finally {
        failing.stop()
      }
      h.engine.hold = false
      await h.advanceTo(at(12, 0, 30))
      assert.equal(h.engine.jobs.length, 2)
      assert.equal((await h.rules.get('web01', h.siteB)).state, 'idle')
    })
  })

  it('a rule removed while its job ran ends quietly: no error reported, no retry', async () => {
    await withHarness({ now: at(12), retryDelays: [30_000] }, async h => {
      h.engine.hold = true
      await h.addRule({ machine: 'web01', to: h.siteB })
      await until(() => h.engine.open.length === 1)
      const job = h.engine.open[0]
      await h.rules.remove('web01', h.siteB)
      job.fail(new Error('stream reset'))
      await h.settle()
      assert.deepEqual(h.seen.filter(e => e.type === 'replication.scheduler-error'), [])
      await assert.rejects(h.rules.get('web01', h.siteB), /no rule sends web01/)
    })
  })

  it('bytesSent adds up across jobs, the partial bytes of a failed job included', async () => {
    await withHarness({ now: at(12) }, async h => {
      h.engine.hold = true
      await h.addRule({ machine: 'web01', to: h.siteB })
      await until(() => h.engine.open.length === 1)
      h.engine.open[0].onProgress?.({ point: 'p', machine: 'web01', pointIndex: 1, points: 1, bytesSent: 700, blocksSent: 1 })
      h.engine.open[0].fail(new Error('stream reset'))
      await h.settle()
      assert.equal((await h.rules.get('web01', h.siteB)).bytesSent, 700)
      const { outcome: done } = await h.scheduler.now('web01', h.siteB)
      await until(() => h.engine.open.length === 1)
      h.engine.open[0].finish({ bytesSent: 300, lastPoint: 'p' })
      await done
      const rule = await h.rules.get('web01', h.siteB)
      assert.equal(rule.bytesSent, 1000)
      assert.equal(rule.state, 'idle')
    })
  })

  it('removing a rule stops its job and forgets it', async () => {
    await withHarness({ now: at(12) }, async h => {
      h.engine.hold = true
      await h.addRule({ machine: 'web01', to: h.siteB })
      await until(() => h.engine.open.length === 1)
      await h.scheduler.removed('web01', h.siteB)
      await h.rules.remove('web01', h.siteB)
      assert.equal(h.engine.jobs[0].signal?.aborted, true)
      h.engine.hold = false
      await h.backup('web01')
      assert.equal(h.engine.jobs.length, 1)
    })
  })
})

describe('replication scheduler: start and stop', () => {
  it('stop aborts running jobs and leaves them marked running; the next start resumes them', async () => {
    const h = await harness({ now: at(12) })
    try {
      await h.addRule({ machine: 'web01', to: h.siteB, schedule: '0 3 * * *' })
      h.engine.hold = true
      const { outcome } = await h.scheduler.now('web01', h.siteB)
      await until(() => h.engine.open.length === 1)
      await h.scheduler.stop()
      // a Core stopping is no refusal (409) but unavailable (503): asking again once it runs works
      await assert.rejects(outcome, (err: Error) => err instanceof StoppingError && /stopped: the Core is stopping/.test(err.message))
      assert.equal(h.engine.jobs[0].signal?.aborted, true)
      assert.equal((await h.rules.get('web01', h.siteB)).state, 'running')
      // a stopped scheduler takes no job: unavailable, like the Core it belongs to
      await assert.rejects(h.scheduler.now('web01', h.siteB), (err: Error) => err instanceof StoppingError && err.message === 'the replication scheduler is not running')
      h.engine.hold = false
      await h.scheduler.start()
      await h.settle()
      assert.equal(h.engine.jobs.length, 2, 'the interrupted cron rule runs again at start')
      assert.equal((await h.rules.get('web01', h.siteB)).state, 'idle')
    } finally {
      await h.close()
    }
  })

  it('at start, after-backup rules run once, paused rules and rules outside their window do not, cron rules only when a run was missed', async () => {
    await withHarness({ now: at(12), start: false }, async h => {
      const noon = at(12).toISOString()
      for (const rule of [
        { machine: 'a', to: h.siteB },
        { machine: 'b', to: h.siteB, paused: true },
        { machine: 'c', to: h.siteB, window: '20:00-21:00' },
        { machine: 'd', to: h.siteB, schedule: '0 3 * * *' }, // made at noon: its first run is tomorrow 03:00
        { machine: 'e', to: h.siteB, schedule: '0 11 * * *' }
      ]) {
        await h.rules.add(rule)
        await h.rules.update(rule.machine, rule.to, r => { r.createdAt = noon })
      }
      // e last ran yesterday at 11:00: today's 11:00 run was missed while the Core was down
      await h.rules.update('e', h.siteB, r => { r.createdAt = at(9, 0, 0, 20).toISOString(); r.lastRunAt = at(11, 0, 0, 24).toISOString() })
      await h.scheduler.start()
      await h.settle()
      assert.deepEqual(h.engine.runs.map(r => r.split('->')[0]).sort(), ['a', 'e'])
      await h.advanceTo(at(20))
      assert.deepEqual(h.engine.runs.map(r => r.split('->')[0]).sort(), ['a', 'c', 'e'])
    })
  })
})

/** Makes every write to the rule store fail, as a failing disk would, until `stop`. */
function failRuleWrites (h: Harness, reason: string): { stop: () => void } {
  const hook = (op: { key: unknown }): void => {
    if (String(op.key).startsWith('!rules!')) throw new Error(reason)
  }
  h.db.hooks.prewrite.add(hook)
  return { stop: () => { h.db.hooks.prewrite.delete(hook) } }
}
