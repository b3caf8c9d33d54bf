import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, open, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir, removeDir } from '../support/dirs.ts'
import { snapshotTree } from '../helpers/tree.ts'
import { TestCore, pair, rule } from '../support/core.ts'

const KiB = 1024
const MiB = 1024 * KiB

/** A tree of incompressible files: 40 small ones and a few large ones (about 6 MiB). */
async function makeTree (root: string): Promise<void> {
  await mkdir(join(root, 'etc'), { recursive: true })
  await mkdir(join(root, 'var', 'lib'), { recursive: true })
  for (let i = 0; i < 40; i++) await writeFile(join(root, 'etc', `conf-${i}.txt`), randomBytes(1 + i * 97))
  await writeFile(join(root, 'var', 'lib', 'db.bin'), randomBytes(4 * MiB))
  await writeFile(join(root, 'var', 'lib', 'log.bin'), randomBytes(2 * MiB))
}

/** Through the operations a user runs: `replication add`, `replication now`, `replication list`, `remove`. */
describe('a point replicates from a source Core to a target Core', { timeout: 120_000 }, () => {
  let work: string
  let src: string
  let a: TestCore
  let b: TestCore
  const points: string[] = []

  before(async () => {
    work = await tempDir('drcore-engine-')
    src = join(work, 'src')
    await makeTree(src)
    ;[a, b] = await Promise.all([TestCore.create('hq'), TestCore.create('dr')])
    await pair(a, b, { tenant: 'acme' })
    await a.addRule('web01', b)
  })
  after(async () => {
    await Promise.all([a?.destroy(), b?.destroy()])
    await removeDir(work)
  })

  test('the first point arrives whole, lands in the source tenant, and restores byte-identical', async () => {
    points.push((await a.backup('web01', src)).point)
    const result = await a.replicateNow('web01', b)
    assert.deepEqual(result.sent, points)
    assert.equal(result.lastPoint, points[0])
    assert.equal(result.pointsBehind, 0)
    // every byte of file data crossed once, plus the nodes
    assert.ok(result.bytesSent >= 6 * MiB && result.bytesSent < 6 * MiB + 256 * KiB, `${result.bytesSent} bytes sent`)

    const [machine] = await b.core.points.machines()
    assert.deepEqual({ machine: machine.machine, tenant: machine.tenant, origin: machine.origin }, { machine: 'web01', tenant: 'acme', origin: a.peerId })
    const record = await b.core.points.get(points[0], 'acme')
    assert.equal(record?.complete, true)
    assert.equal(record?.receivedFrom, a.peerId)

    const dest = join(work, 'restore-1')
    await b.core.run('restore', { machine: 'web01', dest })
    assert.deepEqual(await snapshotTree(join(dest, 'data')), await snapshotTree(src))

    assert.equal(a.events.ofType('replication.started').length, 1)
    const [finished] = a.events.ofType('replication.finished')
    assert.equal(finished.data.bytes, result.bytesSent)
    assert.equal(finished.data.points, 1)
    const [received] = b.events.ofType('replication.received')
    assert.equal(received.data.point, points[0])
    assert.equal(received.data.tenant, 'acme')
  })

  test('the next point sends only its delta against the cursor', async () => {
    // rewrite 64 KiB in the middle of the 4 MiB file, add one small file
    const db = await open(join(src, 'var', 'lib', 'db.bin'), 'r+')
    await db.write(randomBytes(64 * KiB), 0, 64 * KiB, 2 * MiB)
    await db.close()
    await writeFile(join(src, 'etc', 'new.txt'), randomBytes(3000))
    points.push((await a.backup('web01', src)).point)

    const result = await a.replicateNow('web01', b)
    assert.deepEqual(result.sent, [points[1]])
    // the changed chunks (a 64 KiB rewrite touches one to three chunks of 64 KiB on average, at
    // most 256 KiB each), the new file and the nodes on the changed paths
    assert.ok(result.bytesSent > 64 * KiB && result.bytesSent < 800 * KiB, `${result.bytesSent} bytes sent for a 67 KiB change`)
    const dest = join(work, 'restore-2')
    await b.core.run('restore', { machine: 'web01', dest })
    assert.deepEqual(await snapshotTree(join(dest, 'data')), await snapshotTree(src))
  })

  test('a point the target already holds costs one round trip: one status question', async () => {
    const before = { ...a.engine.metrics.messagesSent }
    const result = await a.replicateNow('web01', b)
    const sent = Object.fromEntries(Object.entries(a.engine.metrics.messagesSent).map(([type, n]) => [type, n - (before[type] ?? 0)]).filter(([, n]) => n !== 0))
    assert.deepEqual(sent, { status: 1 })
    assert.deepEqual(result.sent, [])
    assert.equal(result.bytesSent, 0)
    assert.equal(result.lastPoint, points[1])
    assert.equal(result.pointsBehind, 0)
    const listed = await a.rule('web01', b)
    assert.deepEqual({ lastPoint: listed.lastPoint, pointsBehind: listed.pointsBehind, state: listed.state }, { lastPoint: points[1], pointsBehind: 0, state: 'idle' })
  })

  test('replication list counts the points behind from the cursor, without asking the target', async () => {
    await writeFile(join(src, 'etc', 'later.txt'), randomBytes(500))
    points.push((await a.backup('web01', src)).point)
    const before = { ...a.engine.metrics.messagesSent }
    assert.equal((await a.rule('web01', b)).pointsBehind, 1)
    assert.deepEqual(a.engine.metrics.messagesSent, before)
    const result = await a.replicateNow('web01', b)
    assert.deepEqual(result.sent, [points[2]])
    assert.equal((await a.rule('web01', b)).pointsBehind, 0)
  })

  test('removing the rule with --delete-remote removes the tenant\'s records; blocks stay, so sending again costs no block', async () => {
    const removal = await a.run('ruleRemove', { machine: 'web01', to: b.peerId, deleteRemote: true })
    assert.deepEqual({ removed: removal.removed, deletedRemote: removal.deletedRemote }, { removed: true, deletedRemote: true })
    assert.deepEqual(await b.core.points.machines(), [])
    const [removed] = b.events.ofType('replication.removed')
    assert.deepEqual({ tenant: removed.data.tenant, removed: removed.data.removed }, { tenant: 'acme', removed: points.length })
    await a.addRule('web01', b)
    assert.equal((await a.rule('web01', b)).pointsBehind, points.length, 'the cursor went with them')

    const again = await a.replicateNow('web01', b)
    assert.deepEqual(again.sent, points)
    assert.equal(again.bytesSent, 0)
    assert.equal((await b.core.points.get(points[points.length - 1], 'acme'))?.complete, true)
  })

  test('a rule for a machine that has not arrived yet runs and sends nothing', async () => {
    await a.addRule('db01', b)
    const result = await a.replicateNow('db01', b)
    assert.deepEqual(result, { ...result, sent: [], skipped: [], bytesSent: 0, lastPoint: null, pointsBehind: 0 })
  })

  test('a Core the target has not approved is refused before anything is sent, by the scheduler and by the engine', async () => {
    const c = await TestCore.create('stranger')
    try {
      await c.backup('web01', src)
      await c.run('peerAllow', { peerId: b.peerId, name: 'dr' })
      await c.addRule('web01', b)
      assert.equal((await c.rule('web01', b)).state, 'error')
      await assert.rejects(c.replicateNow('web01', b), /^NotAuthorizedError: cannot replicate web01 to dr: dr has not approved this Core/)
      // the engine checks again, whoever asks it for a job (its internals: a rule record by hand)
      await assert.rejects(c.engine.replicate(rule('web01', b)), /has not approved this Core/)
      assert.equal(c.engine.metrics.bytesSent, 0)
    } finally {
      await c.destroy()
    }
  })
})
