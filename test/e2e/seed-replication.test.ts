import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { appendFile, copyFile, mkdir, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { removeDir, tempDir } from '../support/dirs.ts'
import { DaemonCore } from '../support/daemon.ts'
import { waitFor } from '../support/wait.ts'
import { snapshotTree } from '../helpers/tree.ts'

/**
 * The whole seed-drive story on two running Cores: hq replicates web01 to dr with
 * `--seed-drive`, so the points of today wait for a seed while new ones go over the network as
 * deltas (orphans on dr); the seed, consumed on dr one drive at a time, completes them. Then
 * app01's seed is abandoned and the next job sends its points over the network instead.
 */
describe('seed-drive replication between two running Cores', () => {
  let work: string
  let hq: DaemonCore
  let dr: DaemonCore

  const pointsOn = async (core: DaemonCore, machine: string): Promise<any[]> => {
    const rows = await core.api('machines') as any[]
    return rows.some(m => m.machine === machine) ? await core.api('points', { machine }) : []
  }
  const makeTree = async (name: string): Promise<string> => {
    const tree = join(work, name)
    await mkdir(join(tree, 'etc'), { recursive: true })
    await writeFile(join(tree, 'disk.img'), randomBytes(1536 * 1024))
    await writeFile(join(tree, 'etc', 'app.conf'), `${name}\n`)
    return tree
  }
  const change = async (tree: string, step: number): Promise<void> => {
    await appendFile(join(tree, 'etc', 'app.conf'), `change ${step}\n`)
    await writeFile(join(tree, `new-${step}.bin`), randomBytes(128 * 1024))
  }

  before(async () => {
    work = await tempDir('drcore-seed-repl-')
    ;[hq, dr] = await Promise.all(['hq', 'dr'].map(async name => await DaemonCore.init(work, name)))
    await Promise.all([hq.start(), dr.start()])
    await hq.pairWith(dr)
  })
  after(async () => {
    await Promise.all([hq, dr].map(async c => await c?.stop()))
    await removeDir(work)
  })

  test('new points go over the network as orphans; the seed of the old ones completes them', async () => {
    const tree = await makeTree('web01')
    const old = []
    for (let step = 0; step < 3; step++) {
      if (step > 0) await change(tree, step)
      old.push((await hq.json(['backup', 'web01', tree])).point)
    }
    const r = await hq.cli(['replicate', 'web01', '--to', 'dr', '--seed-drive'])
    assert.equal(r.code, 0, r.stderr)
    const rule = await hq.rule('web01', dr)
    assert.deepEqual([rule.seedDrive, rule.seedState], [true, 'outstanding'])

    await change(tree, 3)
    const fresh = (await hq.json(['backup', 'web01', tree])).point
    const expected = await snapshotTree(tree)
    const orphans = await waitFor('the new point on dr, as an orphan', async () => await pointsOn(dr, 'web01'), p => p.length === 1)
    assert.deepEqual(orphans.map(p => [p.point, p.tenant, p.orphan]), [[fresh, 'hq', true]])

    const seed = await hq.json(['seed', 'create', '--out', join(work, 'seed'), '--max-size', '1M'])
    assert.deepEqual(seed.target, { peerId: dr.peerId, name: 'dr' })
    assert.equal(seed.points, 3)
    assert.ok(seed.parts.length >= 2)

    // one drive at a time: the last parts first, then part 1
    const drives = [seed.parts.slice(1), seed.parts.slice(0, 1)]
    const completed: string[] = []
    for (const [i, parts] of drives.entries()) {
      const drive = join(work, `drive-${i}`)
      await mkdir(drive)
      for (const part of parts) await copyFile(part.file, join(drive, basename(part.file)))
      const result = await dr.json(['seed', 'consume', drive])
      assert.deepEqual(result.errors, [])
      completed.push(...result.pointsCompleted)
    }
    assert.deepEqual(new Set(completed), new Set([...old, fresh]))
    // hq learns it when its operator looks, before any job: the seed is consumed, nothing behind
    const jobs = (await hq.events('replication.started')).length
    const listed = await waitFor('hq to see the seed consumed', async () => (await hq.json(['replication', 'list'])).find((x: any) => x.machine === 'web01'),
      (x: any) => x.seedState === 'consumed' && x.pointsBehind === 0, 30_000, 1000)
    assert.equal(listed.seedState, 'consumed')
    assert.deepEqual((await hq.json(['seed', 'list'])).filter((x: any) => x.direction === 'outgoing').map((x: any) => x.state), ['consumed'])
    assert.equal((await hq.events('replication.started')).length, jobs, 'no job ran for it')
    assert.equal((await hq.events('replication.seed-consumed')).length, 1)
    const points = await pointsOn(dr, 'web01')
    assert.deepEqual(points.map(p => [p.point, p.tenant, p.complete]), [...old, fresh].map(id => [id, 'hq', true]))
    const dest = join(work, 'restored')
    const restored = await dr.cli(['restore', 'web01', dest])
    assert.equal(restored.code, 0, restored.stderr)
    assert.deepEqual(await snapshotTree(join(dest, 'web01')), expected)
  })

  test('an abandoned seed: the next job sends the points it was to carry', async () => {
    const tree = await makeTree('app01')
    const old = (await hq.json(['backup', 'app01', tree])).point
    assert.equal((await hq.cli(['replicate', 'app01', '--to', 'dr', '--seed-drive'])).code, 0)
    await change(tree, 1)
    const fresh = (await hq.json(['backup', 'app01', tree])).point
    await waitFor('app01\'s new point on dr, as an orphan', async () => await pointsOn(dr, 'app01'), p => p.length === 1 && p[0].orphan === true)

    const seed = await hq.json(['seed', 'create', '--out', join(work, 'app-seed'), '--machines', 'app01', '--to', 'dr'])
    const abandoned = await hq.json(['seed', 'abandon', seed.seed])
    assert.deepEqual(abandoned.rules.map((r: any) => [r.machine, r.seedState]), [['app01', 'abandoned']])
    assert.equal((await hq.rule('app01', dr)).seedState, 'abandoned')

    const now = await hq.cli(['replication', 'now', 'app01', '--to', 'dr'])
    assert.equal(now.code, 0, now.stderr)
    const points = await waitFor('app01 complete on dr', async () => await pointsOn(dr, 'app01'), p => p.length === 2 && p.every(x => x.complete))
    assert.deepEqual(points.map(p => p.point), [old, fresh])
  })
})
