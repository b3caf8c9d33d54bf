import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { appendFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { isRaw } from '../../src/points/blocks.ts'
import { walkClosure } from '../../src/points/closure.ts'
import type { VerifyReport } from '../../src/core/index.ts'
import { loadManifest } from '../../src/points/manifest.ts'
import { ReplicationSession } from '../../src/replication/sender.ts'
import { REPLICATE_PROTOCOL } from '../../src/protocol/index.ts'
import { tempDir, removeDir } from '../support/dirs.ts'
import { damageBlock } from '../helpers/damage.ts'
import { copySystemTree, oneChunkFile } from '../helpers/system-data.ts'
import { assertSameTree, snapshotTree } from '../helpers/tree.ts'
import { TestCore, pair } from '../support/core.ts'

/**
 * Damage on either side of a replication link, on real data: a target that lost blocks of a
 * point it acknowledged gets them again, and a source that cannot read a block says so and goes
 * on instead of failing the job.
 */
describe('replication over damaged copies', { timeout: 300_000 }, () => {
  let work: string
  let a: TestCore
  let b: TestCore
  let tree: string
  const points: string[] = []

  const closure = async (core: TestCore, id: string): Promise<CID[]> => {
    const out: CID[] = []
    for await (const cid of walkClosure(core.core.store, await loadManifest(core.core.store, id))) out.push(cid)
    return out
  }

  before(async () => {
    work = await tempDir('drcore-repl-damage-')
    tree = join(work, 'web01')
    await copySystemTree(tree, ['/usr/share/perl/5.36.0/Pod', '/usr/share/perl/5.36.0/Math', '/usr/share/perl/5.36.0/Unicode/Collate/Locale'])
    ;[a, b] = await Promise.all([TestCore.create('a'), TestCore.create('b')])
    await pair(a, b, { tenant: 'a' })
    points.push((await a.backup('web01', tree)).point)
    await a.addRule('web01', b)
    await a.addRule('db01', b)
    assert.equal((await a.replicateNow('web01', b)).pointsBehind, 0)
  })
  after(async () => {
    await Promise.all([a?.destroy(), b?.destroy()])
    await removeDir(work)
  })

  test('engine internals, the sender\'s session by hand: an incremental that shares a block the target lost is acknowledged incomplete, and its full closure repairs it', async () => {
    const victim = await oneChunkFile(tree)
    await damageBlock(b.repo, victim.cid)
    assert.deepEqual((await b.core.run('verify', {}) as VerifyReport).lost, [points[0]])
    await appendFile((await oneChunkFile(tree, 16 * 1024 + 1, 64 * 1024)).path, '\n# changed\n')
    points.push((await a.backup('web01', tree)).point)

    const [p1, p2] = await Promise.all(points.map(async id => await loadManifest(a.core.store, id)))
    const wire = await a.node.open(b.peerId, REPLICATE_PROTOCOL, { addresses: [b.address] })
    const session = new ReplicationSession(wire, { store: a.core.store, metrics: a.engine.metrics, batchSize: 1024, pipeline: 2, ackTimeout: 60_000 })
    // the delta against p1 leaves the shared block out: the target must not take the point as whole
    const delta = await session.offer(p2, { base: p1, seed: false, repair: false })
    assert.deepEqual(delta, { kind: 'acked', complete: false, missing: 1, unreadable: 0 })
    assert.equal((await b.core.points.get(points[1], 'a'))?.complete, false)
    const sentBefore = a.engine.metrics.blocksSent
    const repaired = await session.offer(p2, { base: p1, seed: false, repair: true })
    assert.deepEqual(repaired, { kind: 'acked', complete: true, missing: 0, unreadable: 0 })
    assert.equal(a.engine.metrics.blocksSent - sentBefore, 1, 'the repair sends the lost block only')
    await wire.close()

    const verify = await b.core.run('verify', {}) as VerifyReport
    assert.equal(verify.ok, true)
    for (const id of points) assert.equal((await b.core.points.get(id, 'a'))?.complete, true, `${id} is whole again on the target`)
  })

  test('a node the target finds damaged while it checks a closure is sent again, not a reason to reject the transfer', async () => {
    // a directory node shared by every point, damaged on the target without anyone noticing
    const shared = (await closure(a, points[1])).filter(cid => !isRaw(cid) && cid.toString() !== points[1])
    const before = new Set((await closure(a, points[0])).map(String))
    const node = shared.find(cid => before.has(cid.toString()))
    assert.ok(node !== undefined, 'the points share a node')
    await damageBlock(b.repo, node)
    await appendFile((await oneChunkFile(tree, 16 * 1024 + 1, 64 * 1024)).path, '\n# changed again\n')
    points.push((await a.backup('web01', tree)).point)

    const result = await a.replicateNow('web01', b)
    assert.deepEqual(result.sent, [points[2]])
    assert.equal(result.pointsBehind, 0)
    assert.deepEqual(b.events.ofType('replication.rejected'), [])
    assert.equal((await b.core.run('verify', {}) as VerifyReport).ok, true)
    const dest = join(work, 'restored-node')
    await b.core.run('restore', { machine: 'web01', dest })
    assertSameTree(await snapshotTree(join(dest, 'data')), await snapshotTree(tree))
  })

  test('a block the source cannot read is left out: the job goes on, says the point is damaged here, and waits for a repair', async () => {
    const db = join(work, 'db01')
    await copySystemTree(db, ['/usr/share/perl/5.36.0/IO', '/usr/share/perl/5.36.0/TAP'])
    const victim = await oneChunkFile(db)
    const point = (await a.backup('db01', db)).point
    await damageBlock(a.repo, victim.cid)

    const result = await a.replicateNow('db01', b)
    assert.deepEqual(result.blocked, [{ point, why: 'damaged' }])
    assert.deepEqual(result.sent, [], 'a point the target could not get whole is not reported sent')
    assert.equal(result.pointsBehind, 1)
    const here = await a.core.points.get(point, '')
    assert.equal(here?.damaged, true, 'the source marked its own point damaged')
    assert.equal((await b.core.points.get(point, 'a'))?.complete, false)
    const finished = a.events.ofType('replication.finished').at(-1)!
    assert.equal(finished.level, 'warning')
    assert.match(finished.message, /1 points behind: 1 point is damaged on this Core too \(drcore repair\)$/)
    assert.equal((await a.rule('db01', b)).pointsBehind, 1, 'the list shows the target behind')

    // the same data backed up again heals the source; the next job completes the target
    const again = await a.backup('db01', db)
    assert.equal(again.healed, 1)
    assert.deepEqual(again.repaired, [point])
    const next = await a.replicateNow('db01', b)
    assert.equal(next.pointsBehind, 0)
    assert.deepEqual(next.blocked, [])
    assert.equal((await a.rule('db01', b)).pointsBehind, 0)
    assert.equal((await b.core.points.get(point, 'a'))?.complete, true)
  })
})
