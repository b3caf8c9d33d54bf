import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import type { OfflineCore } from '../../src/core/index.ts'
import { TenantBlocks } from '../../src/tenants/index.ts'
import { consumeSeed } from '../../src/seed/consume.ts'
import { SeedPartReader } from '../../src/seed/part-reader.ts'
import type { SeedCreateResult } from '../../src/seed/api.ts'
import { Machine } from './fixtures.ts'
import { openOfflineCore } from '../support/core.ts'
import { tempDir } from '../support/dirs.ts'

/** Tenant references that cannot be written: the process dies at the first attempt. */
class DyingTenantBlocks extends TenantBlocks {
  override async add (_tenant: string, _cids: CID[]): Promise<void> {
    throw new Error('killed while writing tenant references')
  }
}

/**
 * A seed's blocks become visible to the tenant it was consumed into through the tenant's block
 * references (docs/protocol.md, "Tenants"). A part recorded as imported is never read again, so
 * the references of its blocks must be durable with that record: a consume killed right after
 * the record landed must not leave blocks the tenant's peer can never see (its seed would
 * never count as consumed, and its points never as complete in its view).
 */
describe('seed consume killed after a part is recorded: the part\'s blocks are visible to the tenant', { timeout: 60_000 }, () => {
  let work: string
  let hq: OfflineCore
  let dr: OfflineCore
  let seed: SeedCreateResult

  before(async () => {
    work = await tempDir()
    ;[hq, dr] = [await openOfflineCore('hq', work), await openOfflineCore('dr', work)]
    await dr.peers.allow(hq.peerId, { name: 'hq', tenant: 'site-a' })
    const web = new Machine('web01', join(work, 'web01'))
    await web.create()
    await web.backup(hq)
    seed = await hq.run('seedCreate', { out: join(work, 'seed'), machines: ['web01'], to: dr.peerId }) as SeedCreateResult
  })
  after(async () => {
    await Promise.all([hq?.close(), dr?.close()])
    await rm(work, { recursive: true, force: true })
  })

  test('every block of a part recorded as imported is in the tenant\'s view, whenever the consume died', async () => {
    const imports = dr.seedImports
    await consumeSeed({
      store: dr.store,
      points: dr.points,
      imports,
      self: dr.peerId,
      tenantOf: (peerId) => dr.peers.tenantOf(peerId),
      tenants: new DyingTenantBlocks(dr.files.db, dr.store)
    }, join(work, 'seed')).catch(() => {})

    const record = await imports.get(seed.seed)
    const view = dr.tenants.view(dr.store, 'site-a')
    for (const part of seed.parts.filter(p => record?.imported.includes(p.part) === true)) {
      const reader = await SeedPartReader.open(part.file)
      const unseen: string[] = []
      for await (const section of reader.sections()) if (section.valid && !await view.has(section.cid)) unseen.push(section.cid.toString())
      await reader.close()
      assert.deepEqual(unseen, [], `part ${part.part} is recorded as imported, but ${unseen.length} of its blocks are invisible to tenant site-a`)
    }
    assert.deepEqual(record?.imported, seed.parts.map(p => p.part), 'the consume got as far as recording its part')
  })
})
