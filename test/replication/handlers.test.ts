import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { OfflineCore } from '../../src/core/index.ts'
import { NotFoundError, UsageError, UserError } from '../../src/errors.ts'
import { initRepository } from '../../src/repo/index.ts'
import { drcore } from '../support/daemon.ts'
import { removeDir, tempDir } from '../support/dirs.ts'
import { newPeerId } from '../scheduler/harness.ts'

/** The rule operations on a Core that is not running (no daemon): rules are records. */
describe('replication rules without the daemon', () => {
  let work: string
  let repo: string
  let core: OfflineCore
  let dr: string
  let stranger: string

  before(async () => {
    work = await tempDir('drcore-rules-')
    repo = join(work, 'repo')
    await initRepository(repo, { name: 'hq', listen: ['/ip4/127.0.0.1/tcp/0'], apiPort: 0 })
    core = await OfflineCore.open(repo)
    ;[dr, stranger] = await Promise.all([newPeerId(), newPeerId()])
    await core.peers.asking(dr, { name: 'dr', address: '/ip4/127.0.0.1/tcp/4101' })
    await core.peers.answered(dr, 'approved')
    const tree = join(work, 'web01')
    await mkdir(tree)
    await writeFile(join(tree, 'a.txt'), 'a\n')
    await core.run('backup', { machine: 'web01', volumes: [{ name: 'web01', path: tree }] })
    await core.run('backup', { machine: 'web01', volumes: [{ name: 'web01', path: tree }] })
  })
  after(async () => {
    await core.close()
    await removeDir(work)
  })

  it('adds a rule with its options checked and lists it in the contract\'s shape', async () => {
    const row: any = await core.run('ruleAdd', { machine: 'web01', to: 'dr', schedule: '0  2 * * *', window: '22:00-06:00', limit: '10M' })
    assert.deepEqual(Object.keys(row).slice(0, 8), ['machine', 'to', 'state', 'schedule', 'lastPoint', 'pointsBehind', 'bytesSent', 'error'])
    assert.deepEqual(row.to, { peerId: dr, name: 'dr' })
    assert.equal(row.schedule, '0 2 * * *')
    assert.equal(row.window, '22:00-06:00')
    assert.equal(row.limit, 10 * 1024 * 1024)
    assert.equal(row.state, 'idle')
    assert.equal(row.pointsBehind, null, 'counted by the running Core only')
    const { warnings, ...listed } = row
    assert.deepEqual(warnings, [], 'web01 has points here')
    assert.deepEqual(await core.run('rules', {}), [listed])
    await assert.rejects(core.run('ruleAdd', { machine: 'web01', to: dr }), /a rule already sends web01/)
  })

  it('refuses bad schedules, windows, rates, machine names and unknown peer names, naming the option', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ schedule: 'hourly' }, /^--schedule: "hourly" is neither after-backup nor a cron expression/],
      [{ window: '22:00-22:00' }, /^--window: "22:00-22:00" starts and ends at the same minute/],
      [{ window: '10-12' }, /^--window: not a window: "10-12"/],
      [{ limit: '10 mbit' }, /^--limit: not a rate: "10 mbit"/],
      [{ streams: 0 }, /^--streams: "0" is not a number of streams; give an integer from 1 to 16$/],
      [{ streams: 17 }, /^--streams: "17" is not a number of streams; give an integer from 1 to 16$/],
      [{ machine: 'web 01' }, /^not a machine name: "web 01"/]
    ]
    for (const [input, message] of cases) {
      await assert.rejects(core.run('ruleAdd', { machine: 'db01', to: 'dr', ...input }), (err: Error) => err instanceof UsageError && message.test(err.message))
    }
    await assert.rejects(core.run('ruleAdd', { machine: 'db01', to: 'nowhere' }), (err: Error) => err instanceof NotFoundError &&
      err.message === '--to: unknown peer nowhere: pair with it first (drcore peer add <its multiaddr>), or give its peer id')
    await assert.rejects(core.run('ruleAdd', { machine: 'db01', to: core.peerId }), /--to: .* is this Core itself/)
  })

  it('a rule for a machine this Core has no point of is added with a warning', async () => {
    const row: any = await core.run('ruleAdd', { machine: 'web02', to: 'dr' })
    assert.deepEqual(row.warnings, ['this Core has no recovery point of web02: the rule sends it once a backup or a replication brings one here; check the name (drcore machines)'])
    await core.run('ruleRemove', { machine: 'web02', to: 'dr' })
  })

  it('replication set changes schedule, window, limit and streams, checked first, and keeps the counters', async () => {
    await core.run('ruleAdd', { machine: 'web01', to: stranger, limit: '1M' })
    await core.rules.update('web01', stranger, r => { r.bytesSent = 4096; r.lastPoint = 'p1'; r.lastSuccessAt = '2026-01-01T00:00:00.000Z' })
    await assert.rejects(core.run('ruleSet', { machine: 'web01', to: stranger, window: '22:00', limit: '2M' }), /^UsageError: --window: /)
    await assert.rejects(core.run('ruleSet', { machine: 'web01', to: stranger }), /give what to change: --schedule, --window, --limit or --streams/)
    await assert.rejects(core.run('ruleSet', { machine: 'web09', to: stranger, limit: '2M' }), NotFoundError)
    await assert.rejects(core.run('ruleSet', { machine: 'web01', to: stranger, limit: '2M', streams: 17 }), /^UsageError: --streams: /)
    assert.equal((await core.rules.get('web01', stranger)).limit, 1024 * 1024, 'a refused change changes nothing')
    assert.equal((await core.rules.get('web01', stranger)).streams, 1, 'a rule added without streams has one')
    const set: any = await core.run('ruleSet', { machine: 'web01', to: stranger, schedule: '30 1 * * *', window: '01:00-05:00', limit: '2M', streams: 3 })
    assert.equal(set.streams, 3)
    assert.equal((await core.rules.get('web01', stranger)).streams, 3)
    assert.equal(set.schedule, '30 1 * * *')
    assert.equal(set.window, '01:00-05:00')
    assert.equal(set.limit, 2 * 1024 * 1024)
    assert.equal(set.bytesSent, 4096)
    assert.equal(set.lastPoint, 'p1')
    assert.equal(set.lastSuccessAt, '2026-01-01T00:00:00.000Z')
    const cleared: any = await core.run('ruleSet', { machine: 'web01', to: stranger, window: 'none', limit: 'none' })
    assert.equal(cleared.window, null)
    assert.equal(cleared.limit, null)
    assert.equal(cleared.schedule, '30 1 * * *')
    await core.run('ruleRemove', { machine: 'web01', to: stranger })
  })

  it('accepts a peer id not paired yet; the rule shows why it waits', async () => {
    const row: any = await core.run('ruleAdd', { machine: 'db01', to: stranger })
    assert.equal(row.state, 'error')
    assert.equal(row.error, `peer ${stranger} is not paired with this Core: send it a pairing request (drcore peer add <its multiaddr>)`)
    await core.run('ruleRemove', { machine: 'db01', to: stranger })
  })

  it('a seed-drive rule leaves the machine\'s points of today to the seed; refused for a machine with none', async () => {
    const row: any = await core.run('ruleAdd', { machine: 'web01', to: stranger, seedDrive: true })
    assert.equal(row.seedDrive, true)
    assert.equal(row.seedState, 'outstanding')
    const points = (await core.run('points', { machine: 'web01' }) as any[]).map(p => p.point)
    assert.deepEqual((await core.rules.get('web01', stranger)).seedPoints, points)
    await assert.rejects(core.run('ruleAdd', { machine: 'mail01', to: stranger, seedDrive: true }), /--seed-drive: mail01 has no recovery points on this Core yet/)
  })

  it('pause and resume change the record; now, fetch and --delete-remote need the running Core', async () => {
    assert.equal((await core.run('rulePause', { machine: 'web01', to: 'dr' }) as any).state, 'paused')
    assert.equal((await core.run('ruleResume', { machine: 'web01', to: 'dr' }) as any).state, 'idle')
    await assert.rejects(core.run('ruleNow', { machine: 'web01', to: 'dr' }), (err: Error) => err instanceof UserError && err.message === 'replication now needs the running Core (drcore start)')
    await assert.rejects(core.run('ruleRemove', { machine: 'web01', to: 'dr', deleteRemote: true }), /--delete-remote needs the running Core/)
    await assert.rejects(core.run('rulePause', { machine: 'nothing', to: 'dr' }), (err: Error) => err instanceof NotFoundError && err.message === 'no rule sends nothing to dr (drcore replication list shows the rules)')
    await core.run('ruleRemove', { machine: 'web01', to: 'dr' })
    assert.deepEqual((await core.run('rules', {}) as any[]).map(r => r.to), [{ peerId: stranger, name: null }])
  })

  it('the CLI refuses replication now and fetch without the daemon, in one line', async () => {
    await core.close()
    try {
      for (const args of [['replication', 'now', 'web01', '--to', 'dr'], ['fetch', 'web01', '--from', 'dr']]) {
        const r = await drcore([...args, '--repo', repo])
        assert.equal(r.code, 1)
        assert.equal(r.stderr, `drcore: this command needs the running Core: start it with "drcore start --repo ${repo}", then try again\n`)
      }
    } finally {
      core = await OfflineCore.open(repo)
    }
  })
})
