import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { copyFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { OfflineCore } from '../../src/core/index.ts'
import { unnamed } from '../../src/api/peer-ref.ts'
import type { VerifyReport } from '../../src/core/index.ts'
import { initRepository } from '../../src/repo/index.ts'
import type { SeedConsumeResult, SeedCreateOutput, SeedRow } from '../../src/seed/api.ts'
import { snapshotTree } from '../helpers/tree.ts'
import { corruptBlocks, driveWith, Machine, receiveDelta } from './fixtures.ts'
import { openOfflineCore } from '../support/core.ts'
import { tempDir } from '../support/dirs.ts'

/**
 * Source hq protects web01 (seven points). Target dr received points 6 and 7 by seed-mode
 * replication (each as its delta against its parent, in hq's tenant `site-a`): two orphans. The
 * seed carries points 1 to 5, the ones the seed-drive rule left to it, in parts of 512 KiB that
 * reach dr one drive at a time, last part first.
 */
describe('seed consume: parts in any order complete the orphans', () => {
  let work: string
  let hq: OfflineCore
  let dr: OfflineCore
  let web: Machine
  let seed: SeedCreateOutput
  const runs: SeedConsumeResult[] = []

  before(async () => {
    work = await tempDir()
    hq = await openOfflineCore('hq', work)
    dr = await openOfflineCore('dr', work)
    await dr.peers.allow(hq.peerId, { name: 'hq', tenant: 'site-a' })
    web = new Machine('web01', join(work, 'web01'))
    await web.create()
    await web.backup(hq)
    for (let i = 1; i < 7; i++) {
      await web.change()
      await web.backup(hq)
    }
    const ids = web.points.map(p => p.id)
    await hq.rules.add({ machine: 'web01', to: dr.peerId, seedDrive: true, seedPoints: ids.slice(0, 5) })
    await receiveDelta(hq, dr, ids[5], ids[4], 'site-a')
    await receiveDelta(hq, dr, ids[6], ids[5], 'site-a')
    seed = await hq.run('seedCreate', { out: join(work, 'seed'), maxSize: '512K' }) as SeedCreateOutput
  })
  after(async () => {
    await hq.close()
    await dr.close()
    await rm(work, { recursive: true, force: true })
  })

  test('the seed is made for dr from the rule: points 1 to 5, in several parts', () => {
    assert.equal(seed.target?.peerId, dr.peerId)
    assert.equal(seed.points, 5)
    assert.ok(seed.parts.length >= 3, `${seed.parts.length} parts`)
  })

  test('before the seed, the replicated points are orphans in the source\'s tenant', async () => {
    const rows = await dr.points.pointRows('web01', unnamed)
    assert.deepEqual(rows.map(r => [r.seq, r.tenant, r.orphan]), [[6, 'site-a', true], [7, 'site-a', true]])
  })

  test('each drive imports its part and says which parts are still missing', async () => {
    for (const part of [...seed.parts].reverse()) {
      const drive = await driveWith(work, `drive-${part.part}`, [part.file])
      const result = await dr.run('seedConsume', { dir: drive }) as SeedConsumeResult
      runs.push(result)
      assert.deepEqual(result.errors, [])
      assert.equal(result.seed, seed.seed)
      assert.equal(result.tenant, 'site-a')
      assert.deepEqual(result.parts.map(p => [p.part, p.state, p.blocks, p.rejected]), [[part.part, 'imported', part.blocks, 0]])
      assert.equal(result.blocks, part.blocks)
      assert.ok(result.imported <= part.blocks)
      assert.deepEqual(result.missingParts, seed.parts.filter(p => p.part < part.part).map(p => p.part))
      assert.equal(result.complete, part.part === 1)
    }
  })

  test('every point is reported complete exactly once; the orphans with the last part', () => {
    const completed = runs.flatMap(r => r.pointsCompleted)
    assert.equal(new Set(completed).size, completed.length)
    assert.deepEqual(new Set(completed), new Set(web.points.map(p => p.id)))
    const last = runs.at(-1)!.pointsCompleted
    assert.ok(last.includes(web.points[5].id) && last.includes(web.points[6].id))
  })

  test('the points are recorded in the source\'s tenant, as received from it, all complete', async () => {
    const rows = await dr.points.pointRows('web01', unnamed)
    assert.deepEqual(rows.map(r => [r.seq, r.tenant, r.orphan]), web.points.map(p => [p.seq, 'site-a', false]))
    for (const point of web.points.slice(0, 5)) assert.equal((await dr.points.get(point.id, 'site-a'))?.receivedFrom, hq.peerId)
  })

  test('a part consumed again is reported already imported and changes nothing', async () => {
    const result = await dr.run('seedConsume', { dir: join(work, 'drive-2') }) as SeedConsumeResult
    assert.deepEqual(result.parts.map(p => [p.part, p.state, p.blocks, p.imported]), [[2, 'already imported', 0, 0]])
    assert.deepEqual(result.pointsCompleted, [])
    assert.deepEqual(result.missingParts, [])
    assert.equal(result.complete, true)
    assert.deepEqual(result.errors, [])
  })

  test('volume-level restore of old and new points is bit-identical to the source tree', async () => {
    for (const point of [web.points[0], web.points[2], web.points[6]]) {
      const dest = join(work, `restore-${point.seq}`)
      await dr.run('restore', { machine: 'web01', point: point.id, dest })
      assert.deepEqual(await snapshotTree(join(dest, 'data')), point.snapshot)
    }
  })

  test('the target repository is consistent: every block rehashes, no point is an orphan', async () => {
    assert.deepEqual(await corruptBlocks(dr), [])
    const verify = await dr.run('verify', {}) as VerifyReport
    assert.equal(verify.ok, true)
    assert.deepEqual(verify.orphans, [])
  })

  test('the target lists the seed as incoming and consumed, and logged every import', async () => {
    const rows = await dr.run('seeds', {}) as SeedRow[]
    assert.deepEqual(rows.map(r => [r.seed, r.direction, r.state, r.source, r.parts, r.missingParts]),
      [[seed.seed, 'incoming', 'consumed', { peerId: hq.peerId, name: 'hq' }, seed.parts.length, []]])
    const events = (await dr.events.list({ since: 0 })).filter(e => e.type === 'seed.consumed')
    assert.equal(events.length, seed.parts.length + 1)
    assert.match(events.at(-1)!.message, /^seed \S+ from hq: imported no new part of \d+, 0 new blocks, 0 points completed; every part is in$/)
  })
})

describe('seed consume by the Core that wrote it', () => {
  test('a repository rebuilt with the same identity takes its own seed back into its own tenant', async () => {
    const work = await tempDir()
    const hq = await openOfflineCore('hq', work)
    const machine = new Machine('web01', join(work, 'web01'))
    await machine.create()
    const point = await machine.backup(hq)
    const seed = await hq.run('seedCreate', { out: join(work, 'seed'), machines: ['web01'] }) as SeedCreateOutput
    await hq.close()

    const rebuilt = join(work, 'rebuilt')
    await initRepository(rebuilt, { name: 'hq', apiPort: 0 })
    await copyFile(join(work, 'hq', 'identity.key'), join(rebuilt, 'identity.key'))
    const core = await OfflineCore.open(rebuilt)
    try {
      const result = await core.run('seedConsume', { dir: join(work, 'seed') }) as SeedConsumeResult
      assert.equal(result.tenant, '')
      assert.deepEqual(result.pointsCompleted, [point.id])
      const [row] = await core.points.pointRows('web01', unnamed)
      assert.equal(row.tenant, '')
      assert.equal(row.complete, true)
      assert.equal((await core.points.get(point.id, ''))?.receivedFrom, undefined)
      assert.equal(seed.parts.length, 1)
    } finally {
      await core.close()
      await rm(work, { recursive: true, force: true })
    }
  })
})
