/**
 * A seed drive that would take its tenant past its quota is refused before any part is read
 * (docs/retention.md, "Quota"): one line naming the tenant and the quota, an event on the
 * target, nothing stored; raised by the operator, the same drive imports.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { OfflineCore } from '../../src/core/index.ts'
import type { SeedConsumeResult, SeedCreateResult } from '../../src/seed/index.ts'
import type { TenantRow } from '../../src/tenants/index.ts'
import { openOfflineCore } from '../support/core.ts'
import { removeDir, tempDir } from '../support/dirs.ts'

const KiB = 1024

describe('a seed drive and its tenant\'s quota', { timeout: 60_000 }, () => {
  let work: string
  let hq: OfflineCore
  let dr: OfflineCore
  let seed: SeedCreateResult

  before(async () => {
    work = await tempDir('drcore-seed-quota-')
    hq = await openOfflineCore('hq', work)
    dr = await openOfflineCore('dr', work)
    await dr.peers.allow(hq.peerId, { name: 'hq', tenant: 'site-a' })
    await mkdir(join(work, 'data'))
    await writeFile(join(work, 'data', 'a.bin'), randomBytes(384 * KiB))
    await hq.run('backup', { machine: 'web01', volumes: [{ name: 'data', path: join(work, 'data') }] })
    seed = await hq.run('seedCreate', { out: join(work, 'seed'), machines: ['web01'], to: dr.peerId }) as SeedCreateResult
  })
  after(async () => {
    await hq?.close()
    await dr?.close()
    await removeDir(work)
  })

  test('refused before a part is read, in one line, with an event; imported once the operator raises the quota', async () => {
    await dr.run('tenantSet', { tenant: 'site-a', quota: '128K' })
    const before = await dr.store.stats()
    await assert.rejects(dr.run('seedConsume', { dir: join(work, 'seed') }), (err: Error) => {
      assert.equal(err.name, 'QuotaExceededError')
      assert.doesNotMatch(err.message, /\n/)
      assert.match(err.message, /^tenant site-a would pass its quota of 128.0 KiB on this Core \(0 B stored, .* more\): seed .* was not imported, nothing of it was stored; the operator there can raise it/)
      return true
    })
    assert.deepEqual(await dr.store.stats(), before, 'nothing of the seed was stored')
    const events = (await dr.run('events', { limit: 100 }) as Array<{ type: string, data: any }>).filter(e => e.type === 'tenant.quota-exceeded')
    assert.equal(events.length, 1)
    assert.equal(events[0].data.seed, seed.seed)

    await dr.run('tenantSet', { tenant: 'site-a', quota: '1M' })
    const result = await dr.run('seedConsume', { dir: join(work, 'seed') }) as SeedConsumeResult
    assert.deepEqual(result.errors, [])
    const row = (await dr.run('tenants', {}) as TenantRow[]).find(r => r.tenant === 'site-a')!
    assert.equal(row.points, 1)
    assert.ok(row.storedBytes >= 384 * KiB && row.storedBytes <= row.quota!, `usage ${row.storedBytes} counts the seed's blocks`)
  })
})
