/**
 * The ransomware story of issue 11, end to end through real daemons: a customer's Core (hq)
 * replicates to a hosted target (msp) whose operator put a retention lock on hq's tenant. Then
 * an attacker takes hq over: forgets every point it can and prunes, takes "backups" of the
 * encrypted data with forged clocks (2001 and 2099) and floods the target with them, sets a
 * keep-last 1 policy, and asks the target to delete hq's replicas. The target refuses (one line
 * on hq, events on both sides), its own keep-last policy cannot push the locked points out,
 * and every real point verifies and restores from the target byte for byte.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { execFile } from 'node:child_process'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { join } from 'node:path'
import { compareTrees, copyCorpus } from '../helpers/real-data.ts'
import { DaemonCore } from '../support/daemon.ts'
import { removeDir, tempDir } from '../support/dirs.ts'
import { waitFor } from '../support/wait.ts'

const run = promisify(execFile)
const MiB = 1024 * 1024
const DAYS = 3

/** A Node option that moves this process's clock to `iso` (a source's wrong clock, or an attacker's). */
function clockAt (iso: string): Record<string, string> {
  const code = `const R=Date;const d=Date.parse(${JSON.stringify(iso)})-R.now();` +
    'globalThis.Date=class extends R{constructor(...a){a.length===0?super(R.now()+d):super(...a)}static now(){return R.now()+d}};'
  return { NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(code)}` }
}

describe('a locked tenant survives its source taken over by ransomware', { timeout: 300_000 }, () => {
  let work: string
  let hq: DaemonCore
  let msp: DaemonCore
  /** the real points, oldest first, and the tree each one holds */
  const real: Array<{ point: string, tree: string }> = []
  const live = (): string => join(work, 'live')

  const replicated = async (): Promise<void> => {
    await waitFor('hq replicated to msp', async () => await hq.rule('web01', msp), r => r.pointsBehind === 0 && r.state === 'idle', 120_000)
  }

  before(async () => {
    work = await tempDir('drcore-ransomware-')
    ;[hq, msp] = await Promise.all([DaemonCore.init(work, 'hq'), DaemonCore.init(work, 'msp')])
    await Promise.all([hq.start(), msp.start()])
    await hq.pairWith(msp)
    // the target's operator: hq's points cannot be deleted for 30 days; the target's own policy is stingy
    await msp.json(['tenant', 'set', 'hq', '--retention-lock', '30d'])
    await msp.json(['retention', 'set', '--default', '--keep-last', '1'])
    await hq.json(['replicate', 'web01', '--to', 'msp'])
    for (let day = 1; day <= DAYS; day++) {
      const tree = join(work, `day${day}`)
      await copyCorpus(tree, [{ path: '/usr/bin', maxBytes: MiB }, { path: '/usr/share/doc', maxBytes: MiB / 2 }, { path: '/etc', maxBytes: MiB / 2 }], `ransomware day ${day}`)
      await rm(live(), { recursive: true, force: true })
      // cp -a: times to the nanosecond, symlinks as they are (what the restore is compared with)
      await run('cp', ['-a', tree, live()])
      const r = await hq.json(['backup', 'web01', `files=${live()}`])
      real.push({ point: r.point, tree })
      await replicated()
    }
  })
  after(async () => {
    await Promise.all([hq?.stop(), msp?.stop()])
    await removeDir(work)
  })

  test('the attacker forgets, prunes, forges, floods and asks for the delete: the target keeps and restores every real point', async () => {
    const points = async (): Promise<Array<{ point: string, complete: boolean, receivedAt: string }>> => await msp.json(['points', 'hq/web01'])
    assert.deepEqual((await points()).map(p => p.point), real.map(r => r.point), "the target's keep-last 1 already met the lock")

    // 1. forget everything it can on hq, and prune what it held
    const forgot = await hq.json(['forget', 'web01', '--keep-last', '1'])
    assert.equal(forgot.removed.length, DAYS - 1)
    await hq.json(['prune'])

    // 2. "backups" of the encrypted data, with forged clocks, replicated: a flood
    await rm(live(), { recursive: true })
    await mkdir(live())
    for (let i = 0; i < 3; i++) await writeFile(join(live(), `enc-${i}.locked`), randomBytes(256 * 1024))
    for (const when of ['2001-01-01T00:00:00Z', '2099-12-31T00:00:00Z']) {
      // the daemon takes the backups: it runs on the forged clock
      await hq.stop()
      await hq.start(clockAt(when))
      await hq.json(['backup', 'web01', `files=${live()}`])
    }
    await hq.stop()
    await hq.start()
    for (let i = 0; i < 2; i++) {
      await writeFile(join(live(), `flood-${i}.locked`), randomBytes(64 * 1024))
      await hq.json(['backup', 'web01', `files=${live()}`])
    }
    await replicated()
    const forged = (await hq.json(['points', 'web01']) as Array<{ createdAt: string }>).map(p => p.createdAt)
    assert.ok(forged.some(t => t.startsWith('2001')) && forged.some(t => t.startsWith('2099')), 'the forged clocks are in the points hq signed')

    // 3. a keep-last 1 policy on hq, applied
    await hq.json(['retention', 'set', 'web01', '--keep-last', '1'])
    await hq.json(['retention', 'apply'])
    assert.equal((await hq.json(['points', 'web01'])).length, 1)

    // 4. the delete of the replicas: refused, in one line naming the lock
    const removal = await hq.cli(['replication', 'remove', 'web01', '--to', 'msp', '--delete-remote'])
    assert.notEqual(removal.code, 0)
    assert.equal(removal.stderr.trim().split('\n').length, 1, removal.stderr)
    assert.match(removal.stderr, /retention lock of tenant hq on this Core \(30d\) keeps \d+ of the \d+ points of web01 until .*nothing was removed/)
    assert.equal((await msp.events('tenant.delete-refused')).length, 1)
    assert.equal((await hq.events('replication.remote-delete-refused')).length, 1)

    // the target's own policy ran after every received point and again now: the lock kept them all
    await msp.json(['retention', 'apply'])
    const held = await points()
    for (const r of real) assert.equal(held.find(p => p.point === r.point)?.complete, true, `real point ${r.point} is whole on the target`)
    assert.equal(held.length, DAYS + 4, 'the flood is there too (locked as well): nothing was pushed out')
    const tenant = (await msp.json(['tenant', 'list']) as any[]).find(t => t.tenant === 'hq')
    assert.equal(tenant.retentionLock, '30d')
    assert.equal(tenant.points, DAYS + 4)

    // a prune on the target frees nothing the real points need; verify rehashes everything
    await msp.json(['prune'])
    const verify = await msp.json(['verify'])
    assert.equal(verify.ok, true, JSON.stringify(verify))
    for (const r of real) {
      const dest = join(work, `restore-${r.point.slice(-8)}`)
      await msp.json(['restore', 'hq/web01', dest, '--point', r.point])
      assert.deepEqual(await compareTrees(r.tree, join(dest, 'files')), [], `point ${r.point} restores from the target as it was`)
    }
  })
})
