/**
 * Tenant visibility through a prune (docs/retention.md): one tenant's points leave the target and it
 * prunes; what the other tenant sees ("have?" over its own and the first tenant's blocks)
 * does not change, its point stays whole, and the first tenant's references went with the blocks
 * that were removed.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { walkClosure } from '../../src/points/closure.ts'
import { loadManifest } from '../../src/points/manifest.ts'
import type { PruneResult } from '../../src/prune/index.ts'
import type { TenantRow } from '../../src/tenants/index.ts'
import { TestCore, pair } from '../support/core.ts'
import { removeDir, tempDir } from '../support/dirs.ts'

const KiB = 1024

describe('pruning one tenant\'s points changes nothing another tenant sees', { timeout: 120_000 }, () => {
  let work: string
  let msp: TestCore
  let alpha: TestCore
  let beta: TestCore
  const closure: Record<string, CID[]> = {}

  before(async () => {
    work = await tempDir('drcore-prune-tenants-')
    const shared = randomBytes(256 * KiB)
    ;[msp, alpha, beta] = await Promise.all([TestCore.create('msp'), TestCore.create('alpha'), TestCore.create('beta')])
    for (const [core, name] of [[alpha, 'alpha'], [beta, 'beta']] as const) {
      await mkdir(join(work, name))
      await writeFile(join(work, name, 'shared.bin'), shared)
      await writeFile(join(work, name, 'own.bin'), randomBytes(192 * KiB))
      await pair(core, msp, { tenant: name })
      const { point } = await core.backup('web', join(work, name))
      const cids: CID[] = []
      for await (const cid of walkClosure(core.core.store, await loadManifest(core.core.store, point))) cids.push(cid)
      closure[name] = cids
      await core.addRule('web', msp)
      await core.replicateNow('web', msp)
    }
  })
  after(async () => {
    await Promise.all([msp?.destroy(), alpha?.destroy(), beta?.destroy()])
    await removeDir(work)
  })

  test("beta's view before and after alpha's points are forgotten and pruned is the same; alpha's own blocks and references are gone", async () => {
    const all = [...closure.alpha, ...closure.beta]
    const betaView = msp.core.tenants.view(msp.core.store, 'beta')
    const before = await betaView.hasMany(all)
    // alpha's points leave the target (its source asks; no lock): their blocks are garbage there
    await alpha.run('ruleRemove', { machine: 'web', to: msp.peerId, deleteRemote: true })
    assert.deepEqual(await msp.run('machines', {}).then((ms: any[]) => ms.map(m => m.tenant)), ['beta'])
    const pruned = await msp.run('prune', {}) as PruneResult
    assert.ok(pruned.blocksRemoved > 0, 'alpha\'s own blocks were removed')
    assert.deepEqual(await betaView.hasMany(all), before, "beta's view did not change")
    const alphaOwn = closure.alpha.filter(cid => !closure.beta.some(b => b.equals(cid)))
    assert.ok(alphaOwn.length > 0)
    assert.deepEqual(await msp.core.store.hasMany(alphaOwn), alphaOwn.map(() => false))
    // alpha still references the shared blocks it delivered (they are stored: beta's point needs them), nothing else
    const alphaView = msp.core.tenants.view(msp.core.store, 'alpha')
    assert.deepEqual(await alphaView.hasMany(closure.beta), closure.beta.map(cid => closure.alpha.some(a => a.equals(cid))))
    const rows = await msp.run('tenants', {}) as TenantRow[]
    const alphaRow = rows.find(r => r.tenant === 'alpha')!
    const betaRow = rows.find(r => r.tenant === 'beta')!
    assert.equal(alphaRow.points, 0)
    assert.ok(alphaRow.storedBytes >= 256 * KiB && alphaRow.storedBytes < betaRow.storedBytes, `alpha's usage counts only the shared blocks now (${alphaRow.storedBytes})`)
    const verify = await msp.run('verify', {}) as { ok: boolean }
    assert.equal(verify.ok, true)
    assert.equal((await msp.run('points', { machine: 'beta/web' }) as Array<{ complete: boolean }>)[0].complete, true)
  })
})
