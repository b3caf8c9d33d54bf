import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, open, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { SeedCreateResult } from '../../src/seed/api.ts'
import { tempDir, removeDir } from '../support/dirs.ts'
import { snapshotTree } from '../helpers/tree.ts'
import { TestCore, pair } from '../support/core.ts'

const KiB = 1024
const MiB = 1024 * KiB

/**
 * Seed-drive rules: the points that existed when the rule was made travel on a seed drive; newer
 * points go over the network as their delta against the parent, and stay orphans on the target
 * until the seed is consumed there (or abandoned, and then sent).
 */
describe('seed-drive rules send only what the seed does not carry', { timeout: 120_000 }, () => {
  let work: string
  let src: string
  let a: TestCore
  /** targets of seed-drive rules made when only the base existed */
  let b: TestCore
  let c: TestCore
  let base: string
  let incremental: string
  /** `src` as of the incremental */
  let tree: Awaited<ReturnType<typeof snapshotTree>>

  before(async () => {
    work = await tempDir('drcore-seed-mode-')
    src = join(work, 'src')
    await mkdir(src)
    await writeFile(join(src, 'disk.img'), randomBytes(4 * MiB))
    ;[a, b, c] = await Promise.all([TestCore.create('hq'), TestCore.create('dr'), TestCore.create('dr2')])
    await pair(a, b)
    await pair(a, c)
    base = (await a.backup('web01', src)).point
    // `replication add --seed-drive`: the points of today (the base) are left to a seed drive
    for (const target of [b, c]) assert.deepEqual((await a.addRule('web01', target, { seedDrive: true })).seedState, 'outstanding')
    const disk = await open(join(src, 'disk.img'), 'r+')
    await disk.write(randomBytes(16 * KiB), 0, 16 * KiB, MiB)
    await disk.close()
    incremental = (await a.backup('web01', src)).point
    tree = await snapshotTree(src)
  })
  after(async () => {
    await Promise.all([a?.destroy(), b?.destroy(), c?.destroy()])
    await removeDir(work)
  })

  test('newer points arrive as orphans; once the seed is consumed they are complete and nothing more is sent', async () => {
    const seedDir = join(work, 'seed')
    await a.run('seedCreate', { out: seedDir, to: b.peerId })
    assert.equal((await a.rule('web01', b)).seedState, 'outstanding')

    const first = await a.replicateNow('web01', b)
    assert.deepEqual(first.sent, [incremental])
    assert.deepEqual(first.skipped, [base])
    assert.ok(first.bytesSent < 600 * KiB, `only the delta against the parent crossed: ${first.bytesSent} bytes`)
    assert.equal(first.pointsBehind, 2, 'the base waits for the seed, the incremental is an orphan')
    const orphan = await b.core.points.get(incremental, 'hq')
    assert.equal(orphan?.complete, false)

    await b.run('seedConsume', { dir: seedDir })
    assert.equal((await b.core.points.get(incremental, 'hq'))?.complete, true)

    const second = await a.replicateNow('web01', b)
    assert.equal(second.bytesSent, 0, 'the seed brought everything else')
    assert.deepEqual(second.sent, [])
    assert.equal(second.pointsBehind, 0)
    assert.equal(second.lastPoint, incremental)
    assert.equal((await a.rule('web01', b)).seedState, 'consumed')
    assert.equal(a.events.ofType('replication.seed-consumed').length, 1)

    const dest = join(work, 'restore-consumed')
    await b.run('restore', { machine: 'web01', point: incremental, dest })
    assert.deepEqual(await snapshotTree(join(dest, 'data')), tree)
  })

  test('an abandoned seed: the base goes over the network and the orphan is repaired', async () => {
    const seed = await a.run('seedCreate', { out: join(work, 'seed2'), to: c.peerId }) as SeedCreateResult
    const first = await a.replicateNow('web01', c)
    assert.deepEqual(first.sent, [incremental])
    assert.equal((await c.core.points.get(incremental, 'hq'))?.complete, false)

    await a.run('seedAbandon', { seed: seed.seed })
    assert.equal((await a.rule('web01', c)).seedState, 'abandoned')
    const abandoned = await a.replicateNow('web01', c)
    assert.deepEqual(abandoned.sent, [base, incremental])
    assert.equal(abandoned.pointsBehind, 0)
    // the base's blocks once, and nothing twice: the incremental's delta had come already
    assert.ok(abandoned.bytesSent >= 4 * MiB && abandoned.bytesSent < 4 * MiB + 64 * KiB, `${abandoned.bytesSent} bytes`)
    for (const point of [base, incremental]) assert.equal((await c.core.points.get(point, 'hq'))?.complete, true)
    const dest = join(work, 'restore-abandoned')
    await c.run('restore', { machine: 'web01', point: incremental, dest })
    assert.deepEqual(await snapshotTree(join(dest, 'data')), tree)
  })
})
