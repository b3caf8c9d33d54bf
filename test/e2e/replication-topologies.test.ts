import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { appendFile, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { removeDir, tempDir } from '../support/dirs.ts'
import { DaemonCore } from '../support/daemon.ts'
import { waitFor } from '../support/wait.ts'
import { snapshotTree } from '../helpers/tree.ts'

/**
 * Point-to-point, point-to-multipoint and multi-hop on three real Cores:
 *   hq:  web01 -> dr1, web01 -> dr2, app01 -> dr1
 *   dr1: app01 -> dr2 (made before app01 exists anywhere: dr1 forwards what it receives)
 */
describe('replication topologies: point-to-point, point-to-multipoint, multi-hop', () => {
  let work: string
  let hq: DaemonCore
  let dr1: DaemonCore
  let dr2: DaemonCore

  const pointsOn = async (core: DaemonCore, machine: string): Promise<any[]> => {
    const rows = await core.api('machines') as any[]
    return rows.some(m => m.machine === machine) ? await core.api('points', { machine }) : []
  }

  before(async () => {
    work = await tempDir('drcore-topo-')
    ;[hq, dr1, dr2] = await Promise.all(['hq', 'dr1', 'dr2'].map(async name => await DaemonCore.init(work, name)))
    await Promise.all([hq.start(), dr1.start(), dr2.start()])
    await hq.pairWith(dr1)
    await hq.pairWith(dr2)
    await dr1.pairWith(dr2)
  })
  after(async () => {
    await Promise.all([hq, dr1, dr2].map(async c => await c?.stop()))
    await removeDir(work)
  })

  test('hq sends web01 to dr1 and dr2 after each backup; both restore the latest point byte for byte', async () => {
    for (const target of ['dr1', 'dr2']) {
      const r = await hq.cli(['replicate', 'web01', '--to', target])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stdout, `replicating web01 to ${target}: after every backup\n`)
    }
    const tree = join(work, 'web01')
    await mkdir(join(tree, 'etc'), { recursive: true })
    await writeFile(join(tree, 'etc', 'app.conf'), 'listen = 8080\n')
    await writeFile(join(tree, 'data.bin'), randomBytes(2 * 1024 * 1024))
    const first = await hq.json(['backup', 'web01', tree])
    await appendFile(join(tree, 'etc', 'app.conf'), 'tls = on\n')
    await writeFile(join(tree, 'new.bin'), randomBytes(300 * 1024))
    const second = await hq.json(['backup', 'web01', tree])
    const expected = await snapshotTree(tree)

    for (const target of [dr1, dr2]) {
      const points = await waitFor(`web01's two points on ${target.name}`, async () => await pointsOn(target, 'web01'), p => p.length === 2 && p.every(x => x.complete))
      assert.deepEqual(points.map(p => p.point), [first.point, second.point])
      assert.ok(points.every(p => p.tenant === 'hq' && p.origin.peerId === hq.peerId))
    }
    const rules = await waitFor('both rules idle and up to date', async () => await hq.json(['replication', 'list']),
      (rows: any[]) => rows.every(r => r.state === 'idle' && r.lastPoint === second.point))
    for (const rule of rules) {
      assert.deepEqual(Object.keys(rule).slice(0, 8), ['machine', 'to', 'state', 'schedule', 'lastPoint', 'pointsBehind', 'bytesSent', 'error'])
      assert.equal(rule.pointsBehind, 0)
      assert.equal(rule.error, null)
      assert.ok(rule.bytesSent > 2 * 1024 * 1024 && rule.bytesSent < 3 * 1024 * 1024, `each target got the points once: ${rule.bytesSent}`)
    }

    const machines = await dr2.json(['machines'])
    assert.deepEqual(machines.map((m: any) => [m.machine, m.tenant, m.origin.peerId, m.points]), [['web01', 'hq', hq.peerId, 2]])
    for (const target of [dr1, dr2]) {
      const dest = join(work, `restore-web01-${target.name}`)
      const r = await target.cli(['restore', 'web01', dest])
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual(await snapshotTree(join(dest, 'web01')), expected)
    }
  })

  test('dr1 forwards app01 to dr2 with a rule made before app01 arrived; dr2 restores it', async () => {
    const early = await dr1.json(['replicate', 'app01', '--to', 'dr2'])
    assert.equal(early.state, 'idle')
    assert.equal(early.pointsBehind, 0)
    await waitFor('the early rule to run and find nothing', async () => await dr1.rule('app01', dr2), r => r.lastRunAt != null && r.state === 'idle')

    await hq.json(['replicate', 'app01', '--to', 'dr1'])
    const tree = join(work, 'app01')
    await mkdir(tree)
    await writeFile(join(tree, 'app.db'), randomBytes(1024 * 1024))
    await writeFile(join(tree, 'README'), 'app01\n')
    const point = await hq.json(['backup', 'app01', tree])

    const [row] = await waitFor('app01 on dr2', async () => await pointsOn(dr2, 'app01'), p => p.length === 1 && p[0].complete)
    assert.equal(row.point, point.point)
    assert.equal(row.origin.peerId, hq.peerId, 'the origin stays the Core that took the point')
    assert.equal(row.tenant, 'dr1', 'on dr2 it is dr1\'s: dr1 sent it')
    const machines = await dr2.json(['machines'])
    assert.deepEqual(machines.map((m: any) => `${m.machine}:${m.tenant}`).sort(), ['app01:dr1', 'web01:hq'])

    const dest = join(work, 'restore-app01')
    const r = await dr2.cli(['restore', 'app01', dest])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(await snapshotTree(join(dest, 'app01')), await snapshotTree(tree))
    const forwarded = await waitFor('dr1\'s rule to record the forward', async () => await dr1.rule('app01', dr2), r => r.lastPoint === point.point)
    assert.equal(forwarded.state, 'idle')
  })
})
