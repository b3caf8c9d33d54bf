/**
 * forget + prune on real data through the CLI: a machine backed up daily (a copy of system
 * directories and an ext4 image built from them, a share of its blocks rewritten each day),
 * most days forgotten, then pruned. The repository must really shrink (`du`), verify must pass
 * with a full rehash, and the kept points must restore byte for byte; a second prune has
 * nothing left to do.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { buildExt4Image, checkRealDataTools, compareFiles, compareTrees, copyCorpus, rewriteBlocks } from '../helpers/real-data.ts'
import type { Corpus } from '../helpers/real-data.ts'
import { drcoreJson } from '../support/daemon.ts'
import { removeDir, tempDir } from '../support/dirs.ts'

const run = promisify(execFile)
const MiB = 1024 * 1024
const DAYS = 3

async function du (dir: string): Promise<number> {
  const { stdout } = await run('du', ['-sb', dir])
  return Number(stdout.split('\t')[0])
}

describe('forget and prune on real data', { timeout: 300_000 }, () => {
  let work: string
  let repo: string
  let corpus: Corpus
  /** each day's point and a copy of that day's image */
  const days: Array<{ point: string, image: string }> = []

  before(async () => {
    await checkRealDataTools()
    work = await tempDir('drcore-prune-real-')
    repo = join(work, 'repo')
    corpus = await copyCorpus(join(work, 'tree'), [{ path: '/etc' }, { path: '/usr/bin', maxBytes: 2 * MiB }])
    const image = join(work, 'disk.img')
    await buildExt4Image(corpus, image)
    await drcoreJson(['init', '--repo', repo, '--name', 'hq'])
    for (let day = 1; day <= DAYS; day++) {
      if (day > 1) await rewriteBlocks(image, 0.08, `prune day ${day}`)
      const copy = join(work, `day${day}.img`)
      await run('cp', ['--sparse=always', image, copy])
      const r = await drcoreJson(['backup', 'web01', `files=${corpus.dir}`, `disk=${image}`, '--repo', repo])
      days.push({ point: r.point, image: copy })
      const verify = await drcoreJson(['verify', '--repo', repo])
      assert.equal(verify.ok, true, `verify after day ${day}`)
    }
  })
  after(async () => {
    await removeDir(work)
  })

  test('prune after forget shrinks the repository, verify passes, the kept points restore identically, a rerun finds nothing', async (t) => {
    const forgot = await drcoreJson(['forget', 'web01', '--keep-last', '1', '--repo', repo])
    assert.deepEqual(forgot.removed, [days[1].point, days[0].point])
    const before = await du(repo)
    const pruned = await drcoreJson(['prune', '--repo', repo])
    for (const key of ['blocksRemoved', 'bytesFreed', 'packsRewritten', 'packsDeleted', 'seconds']) assert.equal(typeof pruned[key], 'number', key)
    const after = await du(repo)
    t.diagnostic(`du ${before} -> ${after} bytes; prune: ${JSON.stringify(pruned)}`)
    assert.ok(pruned.blocksRemoved > 0 && pruned.bytesFreed > MiB, JSON.stringify(pruned))
    assert.ok(before - after > MiB, `du of the repository went from ${before} to ${after} bytes (prune says ${pruned.bytesFreed} freed)`)
    assert.ok(before - after >= pruned.bytesFreed * 0.9, `what prune says it freed left the disk (${before - after} of ${pruned.bytesFreed})`)

    const verify = await drcoreJson(['verify', '--repo', repo])
    assert.equal(verify.ok, true, JSON.stringify(verify))
    for (const day of days.slice(DAYS - 1)) {
      const dest = join(work, `restore-${day.point.slice(-8)}`)
      await drcoreJson(['restore', 'web01', dest, '--point', day.point, '--repo', repo])
      assert.equal(await compareFiles(day.image, join(dest, 'disk')), undefined, `the image of ${day.point} restores byte for byte`)
      assert.deepEqual(await compareTrees(corpus.dir, join(dest, 'files')), [])
    }
    const again = await drcoreJson(['prune', '--repo', repo])
    assert.equal(again.blocksRemoved, 0)
    assert.equal(again.packsDeleted + again.packsRewritten, 0)
    assert.ok((await readFile(join(repo, 'config.json'))).length > 0)
  })
})
