/**
 * A hosted target's tenants (docs/retention.md): `tenant list/set`, the retention lock that no
 * peer can get past, the quota refused before a block is stored, a point's age counted from its
 * arrival, and a source that forgot the point the target last acknowledged still sending only
 * what the target lacks. In-process Cores talking over 127.0.0.1.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TenantRow } from '../../src/tenants/index.ts'
import type { ForgetResult } from '../../src/retention/index.ts'
import type { PointRow } from '../../src/points/rows.ts'
import { TestCore, pair } from '../support/core.ts'
import { removeDir, tempDir } from '../support/dirs.ts'

const KiB = 1024

describe("a target's tenants: locks, quotas, arrival times", { timeout: 180_000 }, () => {
  let work: string
  let msp: TestCore
  let hq: TestCore
  let branch: TestCore
  const dir = (machine: string): string => join(work, machine)
  const put = async (machine: string, name: string, bytes: number): Promise<void> => {
    await mkdir(dir(machine), { recursive: true })
    await writeFile(join(dir(machine), name), randomBytes(bytes))
  }
  const pointsOn = async (core: TestCore, machine: string): Promise<PointRow[]> => await core.run('points', { machine }) as PointRow[]
  const verifyOn = async (core: TestCore): Promise<void> => {
    const r = await core.run('verify', {}) as { ok: boolean }
    assert.equal(r.ok, true, `verify on ${core.name}: ${JSON.stringify(r)}`)
  }

  before(async () => {
    work = await tempDir('drcore-tenants-lock-')
    ;[msp, hq, branch] = await Promise.all([TestCore.create('msp'), TestCore.create('hq'), TestCore.create('branch')])
    await pair(hq, msp, { tenant: 'hq' })
    await pair(branch, msp, { tenant: 'branch' })
    await hq.addRule('web01', msp)
    await branch.addRule('files', msp)
  })
  after(async () => {
    await Promise.all([msp?.destroy(), hq?.destroy(), branch?.destroy()])
    await removeDir(work)
  })

  test('tenant set and list: the contract fields, sizes and durations parsed, bad ones refused in one line', async () => {
    await put('web01', 'shared.bin', 512 * KiB)
    await hq.backup('web01', dir('web01'))
    await hq.replicateNow('web01', msp)
    const set = await msp.run('tenantSet', { tenant: 'hq', retentionLock: '30d', quota: '64M' }) as TenantRow
    assert.equal(set.retentionLock, '30d')
    assert.equal(set.quota, 64 * 1024 * KiB)
    const rows = await msp.run('tenants', {}) as TenantRow[]
    const row = rows.find(r => r.tenant === 'hq')!
    for (const key of ['tenant', 'peers', 'points', 'storedBytes', 'quota', 'retentionLock']) assert.ok(key in row, key)
    assert.deepEqual(row.peers.map(p => p.peerId), [hq.peerId])
    assert.equal(row.points, 1)
    assert.ok(row.storedBytes >= 512 * KiB && row.storedBytes < 600 * KiB, `stored bytes count the blocks hq sent (${row.storedBytes})`)
    assert.equal(row.lockedPoints, 1)
    assert.deepEqual(rows.find(r => r.tenant === 'branch'), { ...rows.find(r => r.tenant === 'branch'), points: 0, storedBytes: 0, quota: null, retentionLock: null })
    for (const bad of [{ retentionLock: '0d' }, { retentionLock: 'soon' }, { quota: 'lots' }, {}]) {
      await assert.rejects(msp.run('tenantSet', { tenant: 'hq', ...bad }), (err: Error) => {
        assert.equal(err.name, 'UsageError')
        assert.doesNotMatch(err.message, /\n/)
        return true
      }, JSON.stringify(bad))
    }
  })

  test('the retention lock refuses remove --delete-remote (an error the source sees, events on both sides) and keeps points from the target\'s own policies', async () => {
    await put('web01', 'second.bin', 32 * KiB)
    await hq.backup('web01', dir('web01'))
    await hq.replicateNow('web01', msp)
    assert.equal((await pointsOn(msp, 'hq/web01')).length, 2)
    await assert.rejects(hq.run('ruleRemove', { machine: 'web01', to: msp.peerId, deleteRemote: true }), (err: Error) => {
      assert.doesNotMatch(err.message, /\n/)
      assert.match(err.message, /retention lock of tenant hq .*\(30d\) keeps 2 of the 2 points of web01 until .*nothing was removed/)
      return true
    })
    assert.equal((await pointsOn(msp, 'hq/web01')).length, 2, 'nothing was removed')
    assert.equal(msp.events.ofType('tenant.delete-refused').length, 1)
    assert.equal(hq.events.ofType('replication.remote-delete-refused').length, 1)
    // the target's own policy, a rollup and a forget: the locked points stay, said as such
    await msp.run('retentionSet', { machine: 'hq/web01', keepLast: 1 })
    await msp.run('retentionApply', {})
    assert.equal((await pointsOn(msp, 'hq/web01')).length, 2)
    const forget = await msp.run('forget', { machine: 'hq/web01', keepLast: 1 }) as ForgetResult
    assert.deepEqual(forget.removed, [])
    assert.equal(forget.locked, 2)
    assert.ok(Object.values(forget.reasons).every(r => r.includes('locked')))
    await msp.run('retentionClear', { machine: 'hq/web01' })
    // only the operator lifts it: then the same request goes through
    await msp.run('tenantSet', { tenant: 'hq', retentionLock: 'none' })
    await hq.run('ruleRemove', { machine: 'web01', to: msp.peerId, deleteRemote: true })
    assert.deepEqual(await msp.run('machines', {}), [])
    await verifyOn(msp)
  })

  test('a quota refuses the transfer that would pass it before storing: one line on the source, an event on the target, nothing stored lost', async () => {
    await put('files', 'a.bin', 128 * KiB)
    await branch.backup('files', dir('files'))
    await branch.replicateNow('files', msp)
    const before = (await msp.run('tenants', {}) as TenantRow[]).find(r => r.tenant === 'branch')!
    await msp.run('tenantSet', { tenant: 'branch', quota: String(before.storedBytes + 64 * KiB) })
    await put('files', 'b.bin', 256 * KiB)
    await branch.backup('files', dir('files'))
    const job = await branch.replicateNow('files', msp).then(() => undefined, (err: Error) => err.message)
    assert.ok(typeof job === 'string', 'the job failed')
    assert.doesNotMatch(job, /\n/)
    assert.match(job, /tenant branch would pass its quota of .* on this Core .*drcore tenant set branch --quota/)
    const exceeded = msp.events.ofType('tenant.quota-exceeded')
    assert.equal(exceeded.length, 1)
    const after = (await msp.run('tenants', {}) as TenantRow[]).find(r => r.tenant === 'branch')!
    assert.ok(after.storedBytes <= after.quota!, `usage ${after.storedBytes} stays within the quota ${after.quota}`)
    assert.deepEqual((await pointsOn(msp, 'branch/files')).map(p => p.complete), [true], 'the point stored before is whole')
    await verifyOn(msp)
    // raised by the operator: the next job goes through
    await msp.run('tenantSet', { tenant: 'branch', quota: 'none' })
    await branch.replicateNow('files', msp)
    assert.equal((await pointsOn(msp, 'branch/files')).length, 2)
  })

  test("a received point's age is its arrival here: a source claiming it is 25 years old does not make the target's policy drop it", async (t) => {
    await put('old', 'x.bin', 16 * KiB)
    await hq.addRule('old', msp)
    await hq.backup('old', dir('old'))
    await hq.replicateNow('old', msp)
    // then the source's clock (or an attacker holding it) says 2001
    await put('old', 'y.bin', 16 * KiB)
    t.mock.timers.enable({ apis: ['Date'], now: Date.parse('2001-06-01T00:00:00Z') })
    try {
      await hq.backup('old', dir('old'))
    } finally {
      t.mock.timers.reset()
    }
    await hq.replicateNow('old', msp)
    const received = await pointsOn(msp, 'hq/old')
    assert.equal(received.length, 2)
    assert.ok(received.some(p => p.createdAt.startsWith('2001-06-01')))
    for (const p of received) assert.ok(Date.now() - Date.parse(p.receivedAt!) < 60_000)
    // by the claimed times, the 2001 point is 25 years older than the newest and would go
    await msp.run('retentionSet', { machine: 'hq/old', keepWithin: '7d' })
    await msp.run('retentionApply', {})
    assert.equal((await pointsOn(msp, 'hq/old')).length, 2, 'both kept: both arrived minutes ago')
    await msp.run('retentionClear', { machine: 'hq/old' })
  })

  test('the source forgetting the point the target last acknowledged sends only what the target lacks next time', async () => {
    await rm(dir('web01'), { recursive: true })
    await put('web01', 'big.bin', 768 * KiB)
    await hq.backup('web01', dir('web01'))
    await hq.addRule('web01', msp)
    const first = await hq.replicateNow('web01', msp)
    assert.ok(first.bytesSent >= 768 * KiB)
    // the source forgets every point the target holds, then backs up a small change
    await put('web01', 'small.bin', 24 * KiB)
    await hq.backup('web01', dir('web01'))
    const forget = await hq.run('forget', { machine: 'web01', keepLast: 1 }) as ForgetResult
    assert.ok(forget.removed.length >= 1)
    const next = await hq.replicateNow('web01', msp)
    assert.equal(next.sent.length, 1)
    assert.ok(next.bytesSent < 200 * KiB, `only the change and its nodes went (${next.bytesSent} bytes), not the 768 KiB file again`)
    const onTarget = await pointsOn(msp, 'hq/web01')
    assert.equal(onTarget.at(-1)!.point, forget.kept[0])
    assert.equal(onTarget.at(-1)!.complete, true)
  })
})
