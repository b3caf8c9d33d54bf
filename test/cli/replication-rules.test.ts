import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { drcore } from '../support/daemon.ts'
import { tempDir, removeDir } from '../support/dirs.ts'

/** Rules through the CLI (no daemon needed: rules are records): set, list, and the warnings. */
describe('replication rules from the command line', { timeout: 300_000 }, () => {
  let work: string
  let repo: string
  const cli = async (...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> => await drcore([...args, '--repo', repo])
  const json = async (...args: string[]): Promise<any> => {
    const r = await cli(...args, '--json')
    assert.equal(r.code, 0, r.stderr)
    return JSON.parse(r.stdout)
  }
  before(async () => {
    work = await tempDir()
    repo = join(work, 'repo')
    assert.equal((await drcore(['init', '--repo', repo, '--name', 'hq', '--listen', '127.0.0.1:0'])).code, 0)
    const dr = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    await json('peer', 'allow', dr, '--name', 'dr')
    const tree = join(work, 'www')
    await mkdir(tree)
    await writeFile(join(tree, 'index.html'), '<p>hello</p>\n')
    await json('backup', 'web01', tree)
  })
  after(async () => { await removeDir(work) })

  test('a rule for a machine this Core has never seen is added with a warning', async () => {
    const r = await cli('replicate', 'web02', '--to', 'dr')
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stderr, 'warning: this Core has no recovery point of web02: the rule sends it once a backup or a replication brings one here; check the name (drcore machines)\n')
    const known = await cli('replicate', 'web01', '--to', 'dr', '--schedule', '0 2 * * *', '--window', '22:00-06:00', '--limit', '10M')
    assert.equal(known.code, 0, known.stderr)
    assert.equal(known.stderr, '', 'no warning for a machine with points')
  })

  test('replication list shows schedule, window, limit and streams in full, as --json does', async () => {
    const r = await cli('replication', 'list')
    const [header, ...rows] = r.stdout.trimEnd().split('\n')
    assert.match(header, /^MACHINE +TO +STATE +SCHEDULE +WINDOW +LIMIT +STREAMS +LAST POINT +BEHIND +SENT +ERROR$/)
    const web01 = rows.find(l => l.startsWith('web01'))
    assert.match(web01 ?? '', /^web01 +dr +\w+ +0 2 \* \* \* +22:00-06:00 +10\.0 MiB\/s +1 /)
    const rule = (await json('replication', 'list')).find((x: any) => x.machine === 'web01')
    assert.equal(rule.schedule, '0 2 * * *')
    assert.equal(rule.window, '22:00-06:00')
    assert.equal(rule.limit, 10 * 1024 * 1024)
    assert.equal(rule.streams, 1, 'a rule added without --streams sends on one stream')
  })

  test('--streams is set at add and by replication set, listed in text and --json; a count outside 1..16 is one line and changes nothing', async () => {
    const added = await cli('replicate', 'db03', '--to', 'dr', '--streams', '4')
    assert.equal(added.code, 0, added.stderr)
    assert.match(added.stdout, /^replicating db03 to dr: after every backup, 4 streams\n/)
    const db03 = async (): Promise<any> => (await json('replication', 'list')).find((x: any) => x.machine === 'db03')
    assert.equal((await db03()).streams, 4)
    for (const bad of ['0', '17', 'four', '2.5']) {
      const r = await cli('replication', 'set', 'db03', '--to', 'dr', '--streams', bad)
      assert.equal(r.code, 2, r.stderr)
      assert.equal(r.stderr, `drcore: --streams: "${bad}" is not a number of streams; give an integer from 1 to 16\n`)
    }
    assert.equal((await db03()).streams, 4, 'a refused value changed nothing')
    const set = await cli('replication', 'set', 'db03', '--to', 'dr', '--streams', '16')
    assert.equal(set.code, 0, set.stderr)
    assert.equal((await db03()).streams, 16)
    const list = await cli('replication', 'list')
    assert.match(list.stdout.split('\n').find(l => l.startsWith('db03')) ?? '', /^db03 +dr +\w+ +after-backup +- +- +16 /)
    const removed = await cli('replication', 'remove', 'db03', '--to', 'dr')
    assert.equal(removed.code, 0, removed.stderr)
  })

  test('text output names peers as the operator named them: machines, seed create, seed list', async () => {
    const machines = await cli('machines')
    assert.match(machines.stdout, /^web01 +\(own\) +this Core /m)
    const seed = await cli('seed', 'create', '--all', '--to', 'dr', '--out', join(work, 'seed'))
    assert.equal(seed.code, 0, seed.stderr)
    assert.match(seed.stdout, /^seed bafy\w+ for dr: 1 points, /)
    const list = await cli('seed', 'list')
    assert.match(list.stdout, /^bafy\w+ +outgoing +outstanding +dr +web01 /m)
  })

  test('replication set changes a rule in place; none clears a window or a limit; a bad value is one line and changes nothing', async () => {
    const bad = await cli('replication', 'set', 'web01', '--to', 'dr', '--schedule', 'every day', '--limit', '1M')
    assert.equal(bad.code, 2)
    assert.equal(bad.stderr, 'drcore: --schedule: "every day" is neither after-backup nor a cron expression: one has 5 fields (minute hour day-of-month month day-of-week, e.g. "0 2 * * *") or 6 (seconds first), not 2\n')
    assert.equal((await json('replication', 'list')).find((x: any) => x.machine === 'web01').limit, 10 * 1024 * 1024)
    const set = await cli('replication', 'set', 'web01', '--to', 'dr', '--limit', 'none', '--window', '01:00-05:00')
    assert.equal(set.code, 0, set.stderr)
    assert.equal(set.stdout, 'replicating web01 to dr: on schedule 0 2 * * *, window 01:00-05:00\n')
    const rule = (await json('replication', 'list')).find((x: any) => x.machine === 'web01')
    assert.equal(rule.limit, null)
    assert.equal(rule.window, '01:00-05:00')
    assert.equal(rule.createdAt.length > 0, true)
    const missing = await cli('replication', 'set', 'db01', '--to', 'dr', '--limit', '1M')
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /^drcore: no rule sends db01 to dr \(drcore replication list shows the rules\)\n$/)
  })
})
