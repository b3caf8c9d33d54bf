/**
 * kill -9 of a real `drcore prune` process, on real data, at several moments of its sweep: as
 * the rewrite's copies start reaching the packs, mid-copy, and once a doomed pack is unlinked. After each kill the repository opens, `verify` (a full rehash and every point's
 * closure) passes and the kept point is whole; the next prune finishes the work, and the kept
 * point restores byte for byte. The in-process crash cycles (test/store/prune-crash.test.ts) cut
 * the power at every kind of call of the sweep; this is the same promise for the real process.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { bytesIn, killWhen } from '../helpers/kill.ts'
import { checkRealDataTools, compareTrees, copyCorpus } from '../helpers/real-data.ts'
import { drcore } from '../support/daemon.ts'
import { removeDir, tempDir } from '../support/dirs.ts'

const MiB = 1024 * 1024
const TIMEOUT = 280_000
/**
 * When each cycle kills: once the rewrite's copies start reaching the packs, once 2 MiB of them
 * did (mid-copy), once a doomed pack file is gone (the unlinks; the prune may end first).
 */
const MOMENTS: Array<{ what: string, grown?: number, unlinked?: true }> = [
  { what: 'copies started', grown: 1 },
  { what: '2 MiB copied', grown: 2 * MiB },
  { what: 'a pack unlinked', unlinked: true }
]

async function cli (args: string[]): Promise<any> {
  const r = await drcore([...args, '--json'], { timeoutMs: TIMEOUT })
  assert.equal(r.code, 0, `drcore ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

describe('kill -9 during a prune (real processes, real data)', { timeout: TIMEOUT }, () => {
  let work: string
  let repo: string
  let packs: string
  let etc: string

  const verified = async (when: string): Promise<void> => {
    const v = await drcore(['verify', '--repo', repo, '--json'], { timeoutMs: TIMEOUT })
    assert.equal(v.code, 0, `verify ${when}: ${v.stdout} ${v.stderr}`)
    const { ok, corrupt, missing, orphans, lost } = JSON.parse(v.stdout)
    assert.deepEqual({ ok, corrupt, missing, orphans, lost }, { ok: true, corrupt: [], missing: [], orphans: [], lost: [] }, `verify ${when}`)
  }

  before(async () => {
    await checkRealDataTools()
    work = await tempDir('drcore-prune-kill-')
    repo = join(work, 'repo')
    packs = join(repo, 'packs')
    etc = (await copyCorpus(join(work, 'etc'), [{ path: '/etc' }])).dir
    await cli(['init', '--repo', repo, '--name', 'hq', '--listen', '/ip4/127.0.0.1/tcp/0', '--api-port', '0'])
  })
  after(async () => { await removeDir(work) })

  test('killed at several moments of a prune: verify passes, the kept point is whole; the next prune finishes; the kept point restores', async t => {
    let landed = 0
    let kept = ''
    let day = ''
    const newDay = async (n: number): Promise<string> =>
      (await copyCorpus(join(work, `day${n}`), [{ path: '/usr/lib/gcc/x86_64-linux-gnu/12', maxBytes: 10 * MiB }, { path: '/usr/bin', maxBytes: 3 * MiB }], `prune kill ${n}`)).dir
    day = await newDay(-1)
    await cli(['backup', 'box', `etc=${etc}`, `day=${day}`, '--repo', repo])
    await verified('after the first backup')
    for (const [cycle, moment] of MOMENTS.entries()) {
      // a new day of data; the day before is only in the point forgotten below
      day = await newDay(cycle)
      kept = (await cli(['backup', 'box', `etc=${etc}`, `day=${day}`, '--repo', repo])).point
      await verified(`after the backup of cycle ${cycle}`)
      await cli(['forget', 'box', '--keep-last', '1', '--repo', repo])
      const bytes = await bytesIn(packs)
      const names = (await readdir(packs)).sort().join()
      const ready = moment.grown !== undefined
        ? async () => await bytesIn(packs) - bytes >= moment.grown!
        : async () => {
          const now = await readdir(packs)
          return names.split(',').some(name => !now.includes(name))
        }
      try {
        const killed = await killWhen(['prune', '--repo', repo], ready, { what: `prune of cycle ${cycle}`, timeoutMs: TIMEOUT })
        landed++
        t.diagnostic(`cycle ${cycle}: killed after ${killed.ms.toFixed(0)} ms (${moment.what})`)
      } catch (err) {
        // a prune quicker than the chosen delay: the cycle still checks what it left
        if (!/ended on its own/.test((err as Error).message)) throw err
        t.diagnostic(`cycle ${cycle}: the prune ended before the kill (${moment.what})`)
      }
      await verified(`after the kill of cycle ${cycle}`)
      assert.deepEqual((await cli(['points', 'box', '--repo', repo])).map((p: any) => [p.point, p.complete]), [[kept, true]])
    }
    assert.ok(landed >= 2, `only ${landed} kills landed while a prune ran`)
    const rerun = await cli(['prune', '--repo', repo])
    t.diagnostic(`the rerun: ${JSON.stringify(rerun)}`)
    const again = await cli(['prune', '--repo', repo])
    assert.equal(again.blocksRemoved, 0, 'the rerun finished the work')
    await verified('after the rerun')
    const dest = join(work, 'restored')
    await cli(['restore', 'box', dest, '--point', kept, '--repo', repo])
    assert.deepEqual(await compareTrees(etc, join(dest, 'etc')), [])
    assert.deepEqual(await compareTrees(day, join(dest, 'day')), [])
  })
})
