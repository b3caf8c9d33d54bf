import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { drcore } from '../support/daemon.ts'
import { removeDir, tempDir } from '../support/dirs.ts'
import { bytesIn, killWhen } from '../helpers/kill.ts'
import { buildExt4Image, checkRealDataTools, compareFiles, compareTrees, copyCorpus } from '../helpers/real-data.ts'

/**
 * kill -9 of a `drcore backup` process while it writes, on real data: a tree of /etc and
 * /usr/share/i18n, and an ext4 image of this machine's compilers (from /usr/lib/gcc, about 96
 * MiB). The kill lands mid-backup by construction: the test waits until the backup has written a given amount to
 * the packs, kills it, and then requires that it died of the SIGKILL and that no point appeared.
 * A backup that finishes before the kill fails the test (helpers/kill.ts) instead of passing.
 */
const MiB = 1024 * 1024
/**
 * Kill once the packs grew this much during the backup. The image stores about 38 MiB, and the
 * packs grow a flush at a time (8 MiB of blocks, about 3 MiB compressed): first after a few
 * flushes, with more to come; then, on the next run, as soon as its first flush reaches
 * the pack, likely before that flush is indexed.
 */
const KILL_AFTER = [20 * MiB, 1]
const TIMEOUT = 240_000

async function cli (args: string[]): Promise<any> {
  const r = await drcore([...args, '--json'], { timeoutMs: TIMEOUT })
  assert.equal(r.code, 0, `drcore ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

describe('kill -9 during a backup (real processes, real data)', { timeout: TIMEOUT }, () => {
  let work: string
  let repo: string
  let packs: string
  let tree: string
  let image: string
  /** the point committed before the kills */
  let first: string

  /** `drcore verify`: a full rehash of every block, then every point's closure (none incomplete). */
  const verified = async (when: string): Promise<void> => {
    const v = await drcore(['verify', '--repo', repo, '--json'], { timeoutMs: TIMEOUT })
    assert.equal(v.code, 0, `verify ${when}: ${v.stdout} ${v.stderr}`)
    const { ok, corrupt, missing, orphans, lost } = JSON.parse(v.stdout)
    assert.deepEqual({ ok, corrupt, missing, orphans, lost }, { ok: true, corrupt: [], missing: [], orphans: [], lost: [] }, `verify ${when}`)
  }

  before(async () => {
    await checkRealDataTools()
    work = await tempDir('drcore-backup-kill-')
    repo = join(work, 'repo')
    packs = join(repo, 'packs')
    const [treeCorpus, imageCorpus] = await Promise.all([
      copyCorpus(join(work, 'tree'), [{ path: '/etc' }, { path: '/usr/share/i18n' }]),
      copyCorpus(join(work, 'gcc'), [{ path: '/usr/lib/gcc/x86_64-linux-gnu/12', maxBytes: 96 * MiB }])
    ])
    tree = treeCorpus.dir
    image = (await buildExt4Image(imageCorpus, join(work, 'gcc.img'))).path
    await cli(['init', '--repo', repo, '--name', 'hq', '--listen', '/ip4/127.0.0.1/tcp/0', '--api-port', '0'])
    first = (await cli(['backup', 'box', tree, '--repo', repo])).point
    await verified('after the first backup')
  })
  after(async () => { await removeDir(work) })

  test('killed while it writes packs: the repository verifies, no point appears, the committed one stays whole', async t => {
    for (const threshold of KILL_AFTER) {
      const before = await bytesIn(packs)
      const killed = await killWhen(['backup', 'box', tree, image, '--repo', repo], async () => await bytesIn(packs) - before >= threshold, {
        what: `backup killed after ${threshold} bytes of packs`,
        timeoutMs: TIMEOUT
      })
      const written = await bytesIn(packs) - before
      // the backup had not committed: its point would be the machine's second
      const points = await cli(['points', 'box', '--repo', repo])
      assert.deepEqual(points.map((p: any) => p.point), [first], 'the killed backup committed no point')
      await verified(`after a kill at ${threshold} bytes of packs`)
      // opening the repository cut off what was written and never indexed
      const kept = await bytesIn(packs) - before
      t.diagnostic(`killed after ${(killed.ms / 1000).toFixed(1)} s: ${(written / MiB).toFixed(1)} MiB of packs written, ${(kept / MiB).toFixed(1)} MiB of it indexed`)
    }
  })

  test('the interrupted backup, run again, completes, verifies and restores byte for byte', async () => {
    const again = await cli(['backup', 'box', tree, image, '--repo', repo])
    assert.equal(again.kind, 'incremental')
    assert.equal(again.parent, first)
    await verified('after the backup ran again')
    const dest = join(work, 'restored')
    await cli(['restore', 'box', dest, '--repo', repo])
    assert.deepEqual(await compareTrees(tree, join(dest, 'tree')), [])
    assert.equal(await compareFiles(image, join(dest, 'gcc.img')), undefined)
  })
})
