/**
 * Retention on one Core, through its operations (as the CLI and the API run them): forget,
 * standing policies and the rollup after every backup, a child whose parent was forgotten, and
 * prune freeing what no point needs any more.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { OfflineCore } from '../../src/core/index.ts'
import type { ForgetResult } from '../../src/retention/index.ts'
import type { PruneResult } from '../../src/prune/index.ts'
import type { PointRow } from '../../src/points/rows.ts'
import { openOfflineCore } from '../support/core.ts'
import { removeDir, tempDir } from '../support/dirs.ts'

const KiB = 1024

describe('forget, rollup and prune on one Core', { timeout: 120_000 }, () => {
  let work: string
  let core: OfflineCore
  const data = (): string => join(work, 'data')
  /** one more point of `machine`: a file of its own per backup (the previous one gone), and one that stays */
  const backup = async (machine: string, n: number): Promise<string> => {
    await rm(join(data(), `file-${n - 1}.bin`), { force: true })
    await writeFile(join(data(), `file-${n}.bin`), randomBytes(96 * KiB))
    const r = await core.run('backup', { machine, volumes: [{ name: 'data', path: data() }] }) as { point: string }
    return r.point
  }
  const points = async (machine: string): Promise<PointRow[]> => await core.run('points', { machine }) as PointRow[]
  const verify = async (): Promise<void> => {
    const r = await core.run('verify', {}) as { ok: boolean, damaged: unknown[], incomplete?: unknown[] }
    assert.equal(r.ok, true, `verify: ${JSON.stringify(r)}`)
  }

  before(async () => {
    work = await tempDir('drcore-forget-')
    await mkdir(data())
    await writeFile(join(data(), 'stays.bin'), randomBytes(64 * KiB))
    core = await openOfflineCore('hq', work)
  })
  after(async () => {
    await core?.close()
    await removeDir(work)
  })

  test('forget removes what the policy does not keep (--dry-run nothing); --json is {kept, removed}; an empty policy is refused', async () => {
    const ids: string[] = []
    for (let n = 1; n <= 4; n++) ids.push(await backup('web01', n))
    const dry = await core.run('forget', { machine: 'web01', keepLast: 2, dryRun: true }) as ForgetResult
    assert.deepEqual(dry.kept, [ids[3], ids[2]])
    assert.deepEqual(dry.removed, [ids[1], ids[0]])
    assert.equal((await points('web01')).length, 4, 'a dry run removes nothing')
    const real = await core.run('forget', { machine: 'web01', keepLast: 2 }) as ForgetResult
    assert.deepEqual({ kept: real.kept, removed: real.removed }, { kept: [ids[3], ids[2]], removed: [ids[1], ids[0]] })
    assert.deepEqual(real.reasons[ids[3]], ['last'])
    assert.deepEqual((await points('web01')).map(p => p.point), [ids[2], ids[3]])
    await assert.rejects(core.run('forget', { machine: 'web01' }), (err: Error) => {
      assert.equal(err.name, 'UsageError')
      assert.doesNotMatch(err.message, /\n/)
      assert.match(err.message, /--keep-/)
      return true
    })
    await verify()
  })

  test('a point whose parent was forgotten stays complete, says so, and restores after a prune', async () => {
    const [oldest] = await points('web01')
    assert.equal(oldest.parentPresent, false, 'its parent was forgotten')
    assert.equal(oldest.complete, true)
    const pruned = await core.run('prune', {}) as PruneResult
    for (const key of ['blocksRemoved', 'bytesFreed', 'packsRewritten', 'packsDeleted', 'seconds']) assert.equal(typeof (pruned as any)[key], 'number', key)
    assert.ok(pruned.blocksRemoved >= 4, `the forgotten points' own files and nodes go (${pruned.blocksRemoved} blocks)`)
    assert.ok(pruned.bytesFreed >= 150 * KiB, `the forgotten points' own files are freed: ${JSON.stringify(pruned)}`)
    assert.equal(pruned.packsRewritten, 1, 'the one pack, mostly dead, is rewritten')
    await verify()
    const dest = join(work, 'restored-oldest')
    await core.run('restore', { machine: 'web01', point: oldest.point, dest })
    assert.deepEqual((await readdir(join(dest, 'data'))).sort(), ['file-3.bin', 'stays.bin'])
    assert.ok((await readFile(join(dest, 'data', 'stays.bin'))).equals(await readFile(join(data(), 'stays.bin'))), 'stays.bin restores as it was')
    assert.equal((await readFile(join(dest, 'data', 'file-3.bin'))).length, 96 * KiB)
    const again = await core.run('prune', {}) as PruneResult
    assert.equal(again.blocksRemoved, 0, 'a second prune finds nothing dead')
  })

  test("a machine's standing policy applies after every backup; the default covers machines without one; show says what the next rollup removes", async () => {
    await core.run('retentionSet', { machine: 'db01', keepLast: 2 })
    const db: string[] = []
    for (let n = 10; n < 13; n++) db.push(await backup('db01', n))
    assert.deepEqual((await points('db01')).map(p => p.point), db.slice(1), 'the rollup after the third backup removed the first')
    const rolled = (await core.run('events', { limit: 1000 }) as Array<{ type: string, data: any }>).filter(e => e.type === 'retention.rollup')
    assert.deepEqual(rolled.at(-1)?.data.removed, [db[0]])

    await core.run('retentionSet', { default: true, keepLast: 1 })
    const show = await core.run('retentionShow', {}) as { default: unknown, machines: Array<{ machine: string, policySource: string | null, wouldRemove: string[] }> }
    assert.deepEqual(show.default, { keepLast: 1 })
    const web = show.machines.find(m => m.machine === 'web01')!
    assert.equal(web.policySource, 'default')
    assert.equal(web.wouldRemove.length, 1, 'web01 has two points; the default keeps one')
    assert.equal(show.machines.find(m => m.machine === 'db01')!.policySource, 'machine')
    assert.equal((await points('web01')).length, 2, 'show removes nothing')
    await core.run('retentionApply', {})
    assert.equal((await points('web01')).length, 1)
    assert.equal((await points('db01')).length, 2, "db01's own policy, not the default")
    await core.run('retentionClear', { default: true })
    await verify()
  })
})
