import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, open, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { RuleRecord } from '../../src/rules/index.ts'
import { tempDir, removeDir } from '../helpers/cli.ts'
import { snapshotTree } from '../helpers/tree.ts'
import { ReplCore, pair } from './cores.ts'

const KiB = 1024
const MiB = 1024 * KiB

/**
 * Seed-drive rules: the points that existed when the rule was made travel on a seed drive; newer
 * points go over the network as their delta against the parent, and stay orphans on the target
 * until the seed is consumed there (or abandoned, and then sent).
 */
describe('seed-drive rules send only what the seed does not carry', () => {
  let work: string
  let src: string
  let a: ReplCore
  let base: string
  let incremental: string
  /** `src` as of the incremental */
  let tree: Awaited<ReturnType<typeof snapshotTree>>

  before(async () => {
    work = await tempDir('drcore-seed-mode-')
    src = join(work, 'src')
    await mkdir(src)
    await writeFile(join(src, 'disk.img'), randomBytes(4 * MiB))
    a = await ReplCore.create('hq')
    base = (await a.backup('web01', src)).point
    const disk = await open(join(src, 'disk.img'), 'r+')
    await disk.write(randomBytes(16 * KiB), 0, 16 * KiB, MiB)
    await disk.close()
    incremental = (await a.backup('web01', src)).point
    tree = await snapshotTree(src)
  })
  after(async () => {
    await a?.destroy()
    await removeDir(work)
  })

  /** A seed-drive rule to `target` made when only the base existed, as `replicate --seed-drive` records it. */
  async function seedRule (target: ReplCore): Promise<RuleRecord> {
    return await a.core.rules.add({ machine: 'web01', to: target.peerId, seedDrive: true, seedPoints: [base] })
  }

  test('newer points arrive as orphans; once the seed is consumed they are complete and nothing more is sent', async () => {
    const b = await ReplCore.create('dr')
    try {
      await pair(a, b)
      let rule = await seedRule(b)
      const seedDir = join(work, 'seed')
      await a.core.run('seedCreate', { out: seedDir, to: b.peerId })
      rule = await a.core.rules.get('web01', b.peerId)
      assert.equal(rule.seedState, 'outstanding')

      const first = await a.engine.replicate(rule)
      assert.deepEqual(first.sent, [incremental])
      assert.deepEqual(first.skipped, [base])
      assert.ok(first.bytesSent < 600 * KiB, `only the delta against the parent crossed: ${first.bytesSent} bytes`)
      assert.equal(first.pointsBehind, 2, 'the base waits for the seed, the incremental is an orphan')
      const orphan = await b.core.points.get(incremental, 'hq')
      assert.equal(orphan?.complete, false)

      await b.core.run('seedConsume', { dir: seedDir })
      assert.equal((await b.core.points.get(incremental, 'hq'))?.complete, true)

      const second = await a.engine.replicate(rule)
      assert.equal(second.bytesSent, 0, 'the seed brought everything else')
      assert.deepEqual(second.sent, [])
      assert.equal(second.pointsBehind, 0)
      assert.equal(second.lastPoint, incremental)
      assert.equal((await a.core.rules.get('web01', b.peerId)).seedState, 'consumed')
      assert.equal(a.ofType('replication.seed-consumed').length, 1)

      const dest = join(work, 'restore-consumed')
      await b.core.run('restore', { machine: 'web01', point: incremental, dest })
      assert.deepEqual(await snapshotTree(join(dest, 'data')), tree)
    } finally {
      await b.destroy()
    }
  })

  test('an abandoned seed: the base goes over the network and the orphan is repaired', async () => {
    const c = await ReplCore.create('dr2')
    try {
      await pair(a, c)
      const rule = await seedRule(c)
      const first = await a.engine.replicate(rule)
      assert.deepEqual(first.sent, [incremental])
      assert.equal((await c.core.points.get(incremental, 'hq'))?.complete, false)

      const abandoned = await a.engine.replicate({ ...rule, seedState: 'abandoned' })
      assert.deepEqual(abandoned.sent, [base, incremental])
      assert.equal(abandoned.pointsBehind, 0)
      // the base's blocks once, and nothing twice: the incremental's delta had come already
      assert.ok(abandoned.bytesSent >= 4 * MiB && abandoned.bytesSent < 4 * MiB + 64 * KiB, `${abandoned.bytesSent} bytes`)
      for (const point of [base, incremental]) assert.equal((await c.core.points.get(point, 'hq'))?.complete, true)
      const dest = join(work, 'restore-abandoned')
      await c.core.run('restore', { machine: 'web01', point: incremental, dest })
      assert.deepEqual(await snapshotTree(join(dest, 'data')), tree)
    } finally {
      await c.destroy()
    }
  })
})
