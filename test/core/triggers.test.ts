import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { CoreEventOf } from '../../src/events/api.ts'
import type { VerifyReport } from '../../src/core/index.ts'
import type { SeedCreateResult } from '../../src/seed/api.ts'
import { pair, TestCore } from '../support/core.ts'
import { removeDir, tempDir } from '../support/dirs.ts'
import { until } from '../support/wait.ts'

const KiB = 1024

/**
 * What starts replication jobs besides the operator, as a running Core wires it: a target's
 * approval, a backup, a passing verify, a seed drive that brought blocks, an abandoned seed.
 * The scheduler's own tests decide each trigger's effect with a double of the engine; these
 * check that the operations a user runs reach the scheduler at all.
 */
describe('a running Core: what starts replication jobs', { timeout: 120_000 }, () => {
  let work: string
  let hq: TestCore
  let dr: TestCore
  /** hq's jobs that ended, per machine */
  const finished = (core: TestCore, machine: string): Array<CoreEventOf<'replication.finished'>> =>
    core.events.ofType('replication.finished').filter(e => e.data.machine === machine)
  const files = async (name: string): Promise<string> => {
    const dir = join(work, name)
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, `${name}-${Date.now()}.bin`), randomBytes(64 * KiB))
    return dir
  }
  const verify = async (core: TestCore): Promise<void> => {
    const report = await core.run('verify') as VerifyReport
    assert.equal(report.ok, true, JSON.stringify(report))
  }

  before(async () => {
    work = await tempDir('drcore-triggers-')
    ;[hq, dr] = await Promise.all([TestCore.create('hq'), TestCore.create('dr')])
  })
  after(async () => {
    await Promise.all([hq?.destroy(), dr?.destroy()])
    await removeDir(work)
  })

  it('a rule to a Core that has not approved this one waits; the approval starts its job', async () => {
    const first = (await hq.backup('web01', await files('web'))).point
    await hq.addRule('web01', dr, { schedule: 'after-backup' })
    assert.equal(hq.events.ofType('replication.started').length, 0, 'no job before the approval')
    await pair(hq, dr)
    await until(() => finished(hq, 'web01').length === 1)
    assert.deepEqual(finished(hq, 'web01')[0].data.sent, [first])
  })

  it('a backup starts a job of the rules that send its machine; so does a passing verify', async () => {
    const point = (await hq.backup('web01', await files('web'))).point
    await until(() => finished(hq, 'web01').length === 2)
    assert.deepEqual(finished(hq, 'web01')[1].data.sent, [point])
    await verify(hq)
    await until(() => finished(hq, 'web01').length === 3)
    assert.deepEqual(finished(hq, 'web01')[2].data.sent, [], 'the target had every point')
  })

  it('a seed drive that brought blocks starts the after-backup rules of the Core that consumed it', async () => {
    await pair(dr, hq)
    await dr.addRule('web01', hq, { schedule: 'after-backup' })
    await until(() => finished(dr, 'web01').length === 1)
    const point = (await hq.backup('db01', await files('db'))).point
    const seed = join(work, 'seed-db01')
    await hq.run('seedCreate', { out: seed, machines: ['db01'], to: dr.peerId })
    await dr.run('seedConsume', { dir: seed })
    assert.equal((await dr.core.points.get(point, 'hq'))?.complete, true)
    await verify(dr)
    await until(() => finished(dr, 'web01').length === 2)
  })

  it('an abandoned seed wakes the seed-drive rules it served', async () => {
    await hq.addRule('db01', dr, { schedule: 'after-backup', seedDrive: true })
    await until(() => finished(hq, 'db01').length === 1)
    const created = await hq.run('seedCreate', { out: join(work, 'seed-abandoned'), to: dr.peerId }) as SeedCreateResult
    await hq.run('seedAbandon', { seed: created.seed })
    await until(() => finished(hq, 'db01').length === 2)
  })
})
