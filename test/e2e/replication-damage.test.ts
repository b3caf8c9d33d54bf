import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { appendFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { removeDir, tempDir } from '../support/dirs.ts'
import { DaemonCore } from '../support/daemon.ts'
import { waitFor } from '../support/wait.ts'
import { damageBlock } from '../helpers/damage.ts'
import { copySystemTree, ext4Image, oneChunkFile } from '../helpers/system-data.ts'
import { assertSameTree, sha256File, snapshotTree } from '../helpers/tree.ts'

const MiB = 1024 * 1024

/**
 * A damaged replica is noticed and repaired (issue 8, item 4), on two real Cores a -> b with real
 * data: system files and an ext4 image built from them. A block of b's copy is damaged on disk;
 * b's verify finds it, and the next job of a re-sends exactly what b lost.
 */
describe('a damaged replica: the source notices and repairs it', { timeout: 600_000 }, () => {
  let work: string
  let a: DaemonCore
  let b: DaemonCore
  let tree: string
  let image: string
  /** a one-chunk file of the tree: its content is one raw block, shared by every point */
  let victim: { path: string, cid: CID }
  const points: string[] = []

  const backup = async (): Promise<string> => (await a.api('backup', { machine: 'web01', volumes: [{ name: 'tree', path: tree }, { name: 'disk', path: image }] })).point
  const caughtUp = async (point: string): Promise<any> => await waitFor(`b to hold ${point}`, async () => await a.rule('web01', b),
    r => r.lastPoint === point && r.pointsBehind === 0 && r.state === 'idle', 120_000)
  const pointsOn = async (core: DaemonCore): Promise<Map<string, any>> => new Map((await core.json(['points', 'web01'])).map((p: any) => [p.point, p]))
  const restoresOnB = async (point: string, name: string): Promise<void> => {
    const dest = join(work, name)
    const r = await b.cli(['restore', 'web01', dest, '--point', point])
    assert.equal(r.code, 0, r.stderr)
    assertSameTree(await snapshotTree(join(dest, 'tree')), await snapshotTree(tree))
    assert.equal(await sha256File(join(dest, 'disk')), await sha256File(image))
  }
  const received = async (point: string): Promise<any[]> => (await b.events('replication.received')).filter(e => e.data.point === point)

  before(async () => {
    work = await tempDir('drcore-damage-')
    tree = join(work, 'tree')
    await copySystemTree(tree, ['/usr/share/perl/5.36.0/Pod', '/usr/share/perl/5.36.0/IO', '/usr/share/perl/5.36.0/Math'])
    const stage = join(work, 'stage')
    await copySystemTree(stage, ['/usr/share/perl/5.36.0/unicore', '/etc/ssl'])
    image = join(work, 'disk.img')
    await ext4Image(image, stage, 16 * MiB)
    victim = await oneChunkFile(tree)

    ;[a, b] = await Promise.all([DaemonCore.init(work, 'a'), DaemonCore.init(work, 'b')])
    await Promise.all([a.start(), b.start()])
    await a.pairWith(b)
    await a.json(['replicate', 'web01', '--to', 'b'])
    points.push(await backup())
    await caughtUp(points[0])
  })
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()])
    await removeDir(work)
  })

  test('verify on the target names the damaged block and marks the point damaged', async () => {
    assert.equal(await damageBlock(b.repo, victim.cid), 1)
    const verify = await b.json(['verify'], 1)
    assert.equal(verify.ok, false)
    assert.deepEqual(verify.corrupt, [victim.cid.toString()])
    assert.deepEqual(verify.lost, [points[0]])
    const p = (await pointsOn(b)).get(points[0])
    assert.equal(p.damaged, true)
    assert.equal(p.complete, false)
  })

  test('replication now on the source re-sends exactly the lost block; the target verifies and restores', async () => {
    const now = await a.json(['replication', 'now', 'web01', '--to', 'b'])
    assert.deepEqual(now.sent, [points[0]])
    assert.equal(now.blocksSent, 1, 'only the damaged block travels')
    assert.equal(now.pointsBehind, 0)
    assert.equal((await a.rule('web01', b)).pointsBehind, 0)
    const verify = await b.json(['verify'])
    assert.equal(verify.ok, true)
    assert.equal((await pointsOn(b)).get(points[0]).damaged, false)
    await restoresOnB(points[0], 'restored-1')
  })

  test('an incremental that shares a damaged block is not taken as complete: the job repairs both', async () => {
    assert.equal(await damageBlock(b.repo, victim.cid), 2, 'the quarantined copy and the good one')
    assert.deepEqual((await b.json(['verify'], 1)).lost, [points[0]])
    const other = (await oneChunkFile(tree, 16 * 1024 + 1, 64 * 1024)).path
    assert.notEqual(other, victim.path)
    await appendFile(other, '\n# changed for the incremental\n')
    points.push(await backup())
    await caughtUp(points[1])

    const verify = await b.json(['verify'])
    assert.equal(verify.ok, true)
    const onB = await pointsOn(b)
    assert.ok(points.every(p => onB.get(p).complete === true && onB.get(p).damaged === false))
    const [repair] = (await received(points[0])).slice(-1)
    assert.equal(repair.data.blocks, 1, 'the older point got its one lost block')
    assert.ok((await received(points[1])).every(e => e.data.complete === true), 'the incremental was never acknowledged incomplete as complete')
    await restoresOnB(points[1], 'restored-2')
  })

  test('when the source lost the block too, the job and the list say the target is behind and why, also after the rule is re-added', async () => {
    await damageBlock(b.repo, victim.cid)
    await damageBlock(a.repo, victim.cid)
    assert.deepEqual((await b.json(['verify'], 1)).lost.sort(), [...points].sort())
    assert.deepEqual((await a.json(['verify'], 1)).lost.sort(), [...points].sort())

    const now = await a.cli(['replication', 'now', 'web01', '--to', 'b'])
    assert.equal(now.code, 0, now.stderr)
    assert.match(now.stdout, /^replicated web01 to b: 0 points sent, 0 B in \d+\.\d s; 2 behind: 2 points are damaged on this Core too \(drcore repair\)\n$/)
    assert.equal((await a.rule('web01', b)).pointsBehind, 2)

    const finished = (await a.events('replication.finished')).length
    await a.json(['replication', 'remove', 'web01', '--to', 'b'])
    await a.json(['replicate', 'web01', '--to', 'b'])
    await waitFor('the job of the re-added rule', async () => await a.events('replication.finished'), e => e.length > finished)
    assert.equal((await a.rule('web01', b)).pointsBehind, 2)
    const onB = await pointsOn(b)
    assert.ok(points.every(p => onB.get(p).damaged === true), 'b still reports both points damaged')
    assert.equal((await b.json(['verify'], 1)).ok, false)

    // the same data backed up again heals the source, and its job then heals the target
    points.push(await backup())
    await caughtUp(points[2])
    assert.equal((await a.json(['verify'])).ok, true)
    assert.equal((await b.json(['verify'])).ok, true)
    await restoresOnB(points[2], 'restored-3')
  })
})
