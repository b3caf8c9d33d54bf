/**
 * Points an operation in progress reads (a seed being written, a point being sent) are pinned:
 * forgotten meanwhile, their blocks survive a prune until the pin is released; then the next
 * prune frees them. And a seed written while its points are forgotten and pruned is whole.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import type { OfflineCore } from '../../src/core/index.ts'
import { walkClosure } from '../../src/points/closure.ts'
import { loadManifest } from '../../src/points/manifest.ts'
import type { PruneResult } from '../../src/prune/index.ts'
import type { SeedCreateResult } from '../../src/seed/index.ts'
import { openOfflineCore } from '../support/core.ts'
import { removeDir, tempDir } from '../support/dirs.ts'

const KiB = 1024

describe('prune and pinned points', { timeout: 60_000 }, () => {
  let work: string
  let hq: OfflineCore
  const data = (): string => join(work, 'data')
  const backup = async (name: string): Promise<{ point: string, closure: CID[] }> => {
    await rm(data(), { recursive: true, force: true })
    await mkdir(data())
    await writeFile(join(data(), name), randomBytes(256 * KiB))
    const { point } = await hq.run('backup', { machine: 'web01', volumes: [{ name: 'data', path: data() }] }) as { point: string }
    const closure: CID[] = []
    for await (const cid of walkClosure(hq.store, await loadManifest(hq.store, point))) closure.push(cid)
    return { point, closure }
  }

  before(async () => {
    work = await tempDir('drcore-prune-pins-')
    hq = await openOfflineCore('hq', work)
  })
  after(async () => {
    await hq?.close()
    await removeDir(work)
  })

  test('a pinned point forgotten keeps its blocks through a prune; released, the next prune frees them', async () => {
    const first = await backup('one.bin')
    await backup('two.bin')
    const release = hq.pins.pin([first.point])
    try {
      await hq.run('forget', { machine: 'web01', keepLast: 1 })
      const pruned = await hq.run('prune', {}) as PruneResult
      assert.equal(pruned.blocksRemoved, 0)
      assert.deepEqual(await hq.store.hasMany(first.closure), first.closure.map(() => true))
    } finally {
      release()
    }
    const pruned = await hq.run('prune', {}) as PruneResult
    assert.ok(pruned.blocksRemoved >= 2, `the forgotten point's own blocks go once released (${pruned.blocksRemoved})`)
    assert.equal((await hq.store.hasMany(first.closure)).filter(Boolean).length, 0)
  })

  test('a seed written while its points are forgotten and pruned holds every block of them', async () => {
    const points = [await backup('three.bin'), await backup('four.bin')]
    let pruning: Promise<unknown> | undefined
    const seed = await hq.run('seedCreate', { out: join(work, 'seed'), machines: ['web01'], maxSize: '2M' }, () => {
      // at the seed's first progress: forget the older point and prune, while the seed is written
      pruning ??= hq.run('forget', { machine: 'web01', keepLast: 1 }).then(async () => await hq.run('prune', {}))
    }) as SeedCreateResult
    const pruned = await pruning as PruneResult
    assert.ok(pruning !== undefined, 'the prune ran during the seed')
    assert.equal(seed.points, 3, 'the seed has every point of web01 (the one kept by the first test, and both new ones)')
    assert.ok(seed.blocks >= points[0].closure.length + points[1].closure.length - 2, `the seed holds both points (${seed.blocks} blocks)`)
    // pinned by the seed: nothing of the forgotten points went while it was written
    assert.equal(pruned.blocksRemoved, 0)
    assert.deepEqual(await hq.store.hasMany(points[0].closure), points[0].closure.map(() => true))
    // the seed done, its pins are released: the next prune frees what it kept
    const after = await hq.run('prune', {}) as PruneResult
    assert.ok(after.blocksRemoved >= 2, `freed once the seed was written (${after.blocksRemoved})`)
  })
})
