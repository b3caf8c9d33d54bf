import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { OfflineCore } from '../../src/core/index.ts'
import { initRepository } from '../../src/repo/index.ts'
import { blocksSublevel } from '../../src/store/sublevels.ts'
import { decodeLocation } from '../../src/store/location.ts'
import { packFileName } from '../../src/store/pack-format.ts'
import { drcore } from '../support/daemon.ts'
import { removeDir, tempDir } from '../support/dirs.ts'
import { damageBlock, damageCopy } from '../helpers/damage.ts'
import type { BlockCopy } from '../helpers/damage.ts'
import { copySystemTree, oneChunkFile } from '../helpers/system-data.ts'
import { assertSameTree, snapshotTree } from '../helpers/tree.ts'

/**
 * `drcore repair` without a running Core and without peers: a block stored twice in the packs
 * (two writers stored the same bytes at once) is rebuilt from its other copy; a block stored
 * once stays lost, and the report says peers were not asked.
 */
describe('drcore repair from the copies in this repository, with the Core stopped', { timeout: 300_000 }, () => {
  let work: string
  let repo: string
  let tree: string
  let point: string
  let twice: { path: string, cid: CID }
  let once: { path: string, cid: CID }
  /** where the index says `twice` is: the copy the backup deduplicated onto */
  let indexed: BlockCopy

  const cli = async (args: string[]) => await drcore([...args, '--repo', repo])
  const json = async (args: string[], code = 0): Promise<any> => {
    const r = await cli([...args, '--json'])
    assert.equal(r.code, code, r.stderr)
    return JSON.parse(r.stdout)
  }

  before(async () => {
    work = await tempDir('drcore-repair-local-')
    repo = join(work, 'repo')
    tree = join(work, 'tree')
    await copySystemTree(tree, ['/usr/share/perl/5.36.0/TAP', '/usr/share/perl/5.36.0/Test2'])
    twice = await oneChunkFile(tree)
    once = await oneChunkFile(tree, (await readFile(twice.path)).length + 1)
    await initRepository(repo, { name: 'solo', listen: ['/ip4/127.0.0.1/tcp/0'], apiPort: 0 })
    const core = await OfflineCore.open(repo)
    try {
      // two writers store the same bytes at once: both copies land in the packs
      const bytes = await readFile(twice.path)
      const [w1, w2] = [core.store.writer(), core.store.writer()]
      assert.equal(await w1.put(twice.cid, bytes), true)
      assert.equal(await w2.put(twice.cid, bytes), true)
      await w1.commit()
      await w2.commit()
      point = (await core.run('backup', { machine: 'web01', volumes: [{ name: 'tree', path: tree }] }) as { point: string }).point
      const location = decodeLocation((await blocksSublevel(core.files.db).get(twice.cid.bytes))!)
      indexed = { path: join(repo, 'packs', packFileName(location.pack)), bodyOffset: location.offset, bodyLength: location.storedLength }
    } finally {
      await core.close()
    }
  })
  after(async () => { await removeDir(work) })

  test('a damaged block with a good second copy in the packs is rebuilt from it', async () => {
    await damageCopy(indexed)
    const verify = await json(['verify'], 1)
    assert.deepEqual(verify.corrupt, [twice.cid.toString()])
    assert.deepEqual(verify.lost, [point])

    const r = await cli(['repair'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, `point ${point} of web01: whole again (from copies in this repository)\n` +
      "repaired 1 of 1 damaged point: 0 blocks read well again, 1 found in this repository's packs, 0 fetched\n")
    assert.equal((await json(['verify'])).ok, true)
    const dest = join(work, 'restored')
    const restored = await cli(['restore', 'web01', dest])
    assert.equal(restored.code, 0, restored.stderr)
    assertSameTree(await snapshotTree(join(dest, 'tree')), await snapshotTree(tree))
  })

  test('a block stored once stays lost: the point stays damaged, and the report says peers were not asked', async () => {
    await damageBlock(repo, once.cid)
    assert.deepEqual((await json(['verify'], 1)).lost, [point])
    const report = await json(['repair'], 1)
    assert.equal(report.ok, false)
    assert.deepEqual(report.points, [{ point, machine: 'web01', tenant: '', state: 'still damaged', missingBlocks: 1, from: [] }])
    assert.equal(report.foundLocally, 0)
    assert.equal(report.peersNotAsked, 'the Core is not running, so no peer was asked: start it (drcore start) and run drcore repair again')
    const r = await cli(['repair'])
    assert.equal(r.code, 1)
    assert.match(r.stdout, /^the Core is not running, so no peer was asked/m)
  })

  test('with nothing damaged, repair says so and exits 0', async () => {
    const clean = join(work, 'clean')
    await initRepository(clean, { name: 'clean', listen: ['/ip4/127.0.0.1/tcp/0'], apiPort: 0 })
    const r = await drcore(['repair', '--repo', clean])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, 'nothing to repair: no point is damaged and no block waits in quarantine (drcore verify finds damage)\n')
  })
})
