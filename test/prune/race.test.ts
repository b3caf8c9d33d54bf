/**
 * Prune racing the writers that could lose it a block (docs/retention.md, "Garbage collection"):
 * a backup whose chunks dedup against blocks only forgotten points held, and an incoming
 * transfer whose "have?" the target answers "yes" for such blocks. Whenever the prune starts
 * (before, during, near the end), the new point is complete, verify passes and it restores.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { PruneResult } from '../../src/prune/index.ts'
import type { PointRow } from '../../src/points/rows.ts'
import { compareTrees } from '../helpers/real-data.ts'
import { TestCore, pair } from '../support/core.ts'
import { removeDir, tempDir } from '../support/dirs.ts'
import { sleep } from '../support/wait.ts'

const KiB = 1024
/** when the prune starts after the writer did: at once, early, midway, late */
const OFFSETS_MS = [0, 5, 30, 120]

describe('prune racing a backup and an incoming transfer', { timeout: 240_000 }, () => {
  let work: string
  let hq: TestCore
  let msp: TestCore
  /** two contents for the same files: switching between them leaves one dead while the other is live */
  const contents: Buffer[][] = [[], []]
  const tree = (): string => join(work, 'data')
  const write = async (which: 0 | 1): Promise<void> => {
    for (const [i, bytes] of contents[which].entries()) await writeFile(join(tree(), `f${i}.bin`), bytes)
  }

  const points = async (core: TestCore, machine: string): Promise<PointRow[]> => await core.run('points', { machine }) as PointRow[]
  const check = async (core: TestCore, machine: string, point: string): Promise<void> => {
    const verify = await core.run('verify', {}) as { ok: boolean }
    assert.equal(verify.ok, true, `verify on ${core.name}: ${JSON.stringify(verify)}`)
    const row = (await points(core, machine)).find(p => p.point === point)
    assert.equal(row?.complete, true, `${point} is complete on ${core.name}`)
    const dest = join(work, `restore-${core.name}-${point.slice(-8)}`)
    await core.run('restore', { machine, point, dest })
    assert.deepEqual(await compareTrees(tree(), join(dest, 'data')), [])
  }

  before(async () => {
    work = await tempDir('drcore-prune-race-')
    await mkdir(tree())
    // several files, many chunks: a backup and a transfer take long enough to be raced
    for (let i = 0; i < 6; i++) for (const set of contents) set.push(randomBytes(384 * KiB))
    ;[hq, msp] = await Promise.all([TestCore.create('hq'), TestCore.create('msp')])
    await pair(hq, msp, { tenant: 'hq' })
    await hq.addRule('web01', msp)
  })
  after(async () => {
    await Promise.all([hq?.destroy(), msp?.destroy()])
    await removeDir(work)
  })

  test('a backup deduplicating against blocks only forgotten points held keeps every block, whenever the prune starts', async () => {
    let removed = 0
    for (const offset of OFFSETS_MS) {
      await write(0)
      await hq.backup('lab', tree())
      await write(1)
      await hq.backup('lab', tree())
      // the first content's blocks are dead now, until the backup below finds them again
      await hq.run('forget', { machine: 'lab', keepLast: 1 })
      await write(0)
      const backup = hq.backup('lab', tree())
      await sleep(offset)
      const [made, pruned] = await Promise.all([backup, hq.run('prune', {}) as Promise<PruneResult>])
      removed += pruned.blocksRemoved
      await check(hq, 'lab', made.point)
    }
    assert.ok(removed > 0, 'the prunes had dead blocks to remove')
  })

  test('an incoming transfer the target answered "have" for keeps every block, whenever the prune starts', async () => {
    let removed = 0
    for (const offset of OFFSETS_MS) {
      await write(0)
      await hq.backup('web01', tree())
      await hq.replicateNow('web01', msp)
      await write(1)
      await hq.backup('web01', tree())
      await hq.replicateNow('web01', msp)
      // the target forgets the first: its blocks are dead there, and hq's references still say "have"
      const forgotten = (await msp.run('forget', { machine: 'hq/web01', keepLast: 1 }) as { removed: string[] }).removed
      await write(0)
      const made = await hq.backup('web01', tree())
      const transfer = hq.replicateNow('web01', msp)
      await sleep(offset)
      const [sent, pruned] = await Promise.all([transfer, msp.run('prune', {}) as Promise<PruneResult>])
      removed += pruned.blocksRemoved
      // what the target's retention removed is not sent again, nor counted behind
      assert.deepEqual(sent.sent, [made.point])
      for (const id of forgotten) assert.ok(sent.skipped.includes(id), `${id} was offered and declined`)
      assert.equal(sent.pointsBehind, 0)
      await check(msp, 'hq/web01', made.point)
    }
    assert.ok(removed > 0, 'the prunes had dead blocks to remove')
  })
})
