import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { appendFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { OfflineCore } from '../../src/core/index.ts'
import { blocksSublevel } from '../../src/store/sublevels.ts'
import { drcore } from '../support/daemon.ts'
import { removeDir, tempDir } from '../support/dirs.ts'
import { damageBlock } from '../helpers/damage.ts'
import { copySystemTree, oneChunkFile } from '../helpers/system-data.ts'

/**
 * `drcore verify --json` counts each damaged or missing block once, in the list it belongs to:
 * a corrupt block that three points share is one entry of `corrupt` and none of `missing` (it
 * was "4 missing"), and a block gone from the repository is one entry of `missing` however many
 * points need it. Real files, three points of one machine sharing most of their blocks.
 */
describe('verify reports each block once, corrupt or missing', { timeout: 300_000 }, () => {
  let work: string
  let repo: string
  let points: string[]
  let corrupt: CID
  let gone: CID

  const json = async (args: string[], code = 0): Promise<any> => {
    const r = await drcore([...args, '--repo', repo, '--json'])
    assert.equal(r.code, code, r.stderr)
    return JSON.parse(r.stdout)
  }

  before(async () => {
    work = await tempDir('drcore-verify-report-')
    repo = join(work, 'repo')
    const tree = join(work, 'tree')
    await copySystemTree(tree, ['/usr/share/perl/5.36.0/TAP', '/etc/ssl'])
    corrupt = (await oneChunkFile(tree)).cid
    gone = (await oneChunkFile(tree, 16 * 1024, 30 * 1024)).cid
    assert.equal((await drcore(['init', '--repo', repo, '--listen', '127.0.0.1:0'])).code, 0)
    for (let i = 0; i < 3; i++) {
      await appendFile(join(tree, 'log.txt'), `day ${i}\n`)
      await json(['backup', 'web01', tree])
    }
    points = (await json(['points', 'web01'])).map((p: { point: string }) => p.point)
    assert.equal((await json(['verify'])).ok, true, 'whole before the damage')
  })
  after(async () => { await removeDir(work) })

  test('a corrupt block three points share is listed once as corrupt, not as missing', async () => {
    await damageBlock(repo, corrupt)
    const report = await json(['verify'], 1)
    assert.deepEqual(report.corrupt, [corrupt.toString()])
    assert.deepEqual(report.missing, [], 'quarantined, not missing: it is listed in corrupt')
    assert.deepEqual([...report.lost].sort(), [...points].sort(), 'each point that needs it is damaged')
  })

  test('a block gone from the repository is listed once in missing, whatever the points that need it', async () => {
    const core = await OfflineCore.open(repo)
    try {
      await blocksSublevel(core.files.db).del(gone.bytes)
    } finally {
      await core.close()
    }
    const report = await json(['verify'], 1)
    assert.deepEqual(report.missing, [gone.toString()])
    assert.deepEqual(report.corrupt, [corrupt.toString()])
    const text = await drcore(['verify', '--repo', repo])
    assert.match(text.stdout, /blocks checked: 1 corrupt, 1 missing; 0 orphan points/)
    const rows = await json(['points', 'web01'])
    assert.ok(rows.every((p: { missingBlocks: number }) => p.missingBlocks >= 2), 'each point counts what it lacks')
  })
})
