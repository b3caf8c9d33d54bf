import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { PointReceived } from '../../src/replication/api.ts'
import { tempDir, removeDir } from '../support/dirs.ts'
import { snapshotTree } from '../helpers/tree.ts'
import { TestCore, pair } from '../support/core.ts'

const KiB = 1024

/**
 * A -> B -> C: B forwards what it received because its own rule says so. Points never go back to
 * the Core they came from, nor to their origin; a machine of a cluster brings its cluster.
 */
describe('rules forward points across Cores, never back', { timeout: 120_000 }, () => {
  let work: string
  let src: string
  let a: TestCore
  let b: TestCore
  let c: TestCore
  const received: PointReceived[] = []
  const points: string[] = []

  before(async () => {
    work = await tempDir('drcore-forwarding-')
    src = join(work, 'src')
    await mkdir(join(src, 'www'), { recursive: true })
    for (let i = 0; i < 20; i++) await writeFile(join(src, 'www', `page-${i}.html`), randomBytes(20 * KiB))
    ;[a, b, c] = await Promise.all([TestCore.create('hq'), TestCore.create('relay'), TestCore.create('vault')])
    await pair(a, b, { tenant: 'hq' })
    await pair(b, c, { tenant: 'relay' })
    // the reverse links exist too, so "never back" is the engine's choice, not a refusal
    await pair(b, a)
    await pair(c, b)
    await pair(c, a)
    await a.addRule('web01', b)
    await b.addRule('web01', c)
    // the engine's announcement, which the scheduler forwards on (with after-backup rules)
    b.engine.onPointReceived(e => { received.push(e) })
  })
  after(async () => {
    await Promise.all([a?.destroy(), b?.destroy(), c?.destroy()])
    await removeDir(work)
  })

  test('a rule naming a machine that has not arrived yet sends nothing', async () => {
    const result = await b.replicateNow('web01', c)
    assert.deepEqual({ sent: result.sent, skipped: result.skipped, bytes: result.bytesSent, behind: result.pointsBehind }, { sent: [], skipped: [], bytes: 0, behind: 0 })
  })

  test('a point received from a peer is announced, and forwarded by the next hop\'s rule', async () => {
    points.push((await a.backup('web01', src)).point)
    await a.replicateNow('web01', b)
    assert.deepEqual(received, [{ point: points[0], machine: 'web01', origin: a.peerId, tenant: 'hq', from: a.peerId }])

    const forwarded = await b.replicateNow('web01', c)
    assert.deepEqual(forwarded.sent, points)
    const [machine] = await c.core.points.machines()
    assert.deepEqual({ machine: machine.machine, tenant: machine.tenant, origin: machine.origin }, { machine: 'web01', tenant: 'relay', origin: a.peerId })
    assert.equal((await c.core.points.get(points[0], 'relay'))?.receivedFrom, b.peerId)
    const dest = join(work, 'restore-c')
    await c.core.run('restore', { machine: 'web01', dest })
    assert.deepEqual(await snapshotTree(join(dest, 'data')), await snapshotTree(src))
  })

  test('a point is never offered back to the Core it came from, nor to its origin', async () => {
    await b.addRule('web01', a)
    const sentBefore = { ...b.engine.metrics.messagesSent }
    const back = await b.replicateNow('web01', a)
    assert.deepEqual({ sent: back.sent, skipped: back.skipped, behind: back.pointsBehind }, { sent: [], skipped: points, behind: 0 })
    assert.deepEqual(b.engine.metrics.messagesSent, sentBefore, 'not even a status question')
    for (const to of [b, a]) {
      await c.addRule('web01', to)
      const result = await c.replicateNow('web01', to)
      assert.deepEqual({ sent: result.sent, skipped: result.skipped }, { sent: [], skipped: points })
    }
    assert.equal((await b.rule('web01', a)).pointsBehind, 0)
    assert.equal(a.events.ofType('replication.received').length, 0)
  })

  test('the next point crosses every hop as its delta', async () => {
    await writeFile(join(src, 'www', 'page-3.html'), randomBytes(20 * KiB))
    points.push((await a.backup('web01', src)).point)
    const first = await a.replicateNow('web01', b)
    const second = await b.replicateNow('web01', c)
    assert.deepEqual([first.sent, second.sent], [[points[1]], [points[1]]])
    for (const hop of [first, second]) assert.ok(hop.bytesSent > 20 * KiB && hop.bytesSent < 64 * KiB, `${hop.bytesSent} bytes for a 20 KiB change`)
    assert.equal(received.length, 2)
  })

  test('a machine of a cluster brings every machine of the cluster', async () => {
    const db = join(work, 'db')
    await mkdir(db)
    await writeFile(join(db, 'table.dat'), randomBytes(10 * KiB))
    const sql1 = (await a.backup('sql1', db, { cluster: 'sql' })).point
    const sql2 = (await a.backup('sql2', db, { cluster: 'sql' })).point
    await a.addRule('sql1', b)
    const result = await a.replicateNow('sql1', b)
    assert.deepEqual(new Set(result.sent), new Set([sql1, sql2]))
    const machines = (await b.core.points.machines()).map(m => [m.machine, m.cluster])
    assert.deepEqual(machines.filter(([, cluster]) => cluster === 'sql'), [['sql1', 'sql'], ['sql2', 'sql']])
  })
})
