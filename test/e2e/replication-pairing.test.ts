import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { removeDir, tempDir } from '../support/dirs.ts'
import { DaemonCore } from '../support/daemon.ts'
import { waitFor } from '../support/wait.ts'

/**
 * Pairing decisions through the CLI, and what they mean for replication: dr is the target;
 * hq asks and is approved, rogue is ignored then denied, branch is allowed then forgotten.
 */
describe('pairing decides who may replicate: approve, ignore, deny, allow', () => {
  let work: string
  let dr: DaemonCore
  let hq: DaemonCore
  let rogue: DaemonCore
  let branch: DaemonCore

  const backup = async (core: DaemonCore, machine: string): Promise<string> => {
    const dir = join(work, `${core.name}-${machine}`)
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'data.bin'), randomBytes(128 * 1024))
    return (await core.json(['backup', machine, dir])).point
  }
  const pointsOnDr = async (machine: string): Promise<string[]> =>
    (await dr.api('machines') as any[]).some(m => m.machine === machine) ? (await dr.api('points', { machine }) as any[]).map(p => p.point) : []
  const peerOn = async (core: DaemonCore, other: DaemonCore): Promise<any> => (await core.json(['peer', 'list'])).find((p: any) => p.peerId === other.peerId)

  before(async () => {
    work = await tempDir('drcore-pairing-')
    ;[dr, hq, rogue, branch] = await Promise.all(['dr', 'hq', 'rogue', 'branch'].map(async name => await DaemonCore.init(work, name)))
    await Promise.all([dr.start(), hq.start(), rogue.start(), branch.start()])
  })
  after(async () => {
    await Promise.all([dr, hq, rogue, branch].map(async c => await c?.stop()))
    await removeDir(work)
  })

  test('approve: hq asks, dr approves it into a tenant, hq replicates', async () => {
    const asked = await hq.json(['peer', 'add', dr.address, '--name', 'dr'])
    assert.equal(asked.state, 'requested')
    const [request] = await dr.json(['peer', 'requests'])
    assert.equal(request.peerId, hq.peerId)
    assert.equal(request.state, 'pending')
    const approved = await dr.json(['peer', 'approve', 'hq', '--tenant', 'headquarters'])
    assert.equal(approved.tenant, 'headquarters')
    await waitFor('hq to hear the approval', async () => await peerOn(hq, dr), p => p.canSendTo === true)
    assert.ok((await hq.events('pairing.approved')).some(e => e.data.peerId === dr.peerId && e.data.by === 'remote'))

    await hq.json(['replicate', 'web01', '--to', 'dr'])
    const point = await backup(hq, 'web01')
    await waitFor('web01 on dr', async () => await pointsOnDr('web01'), p => p.includes(point))
    const [machine] = await dr.json(['machines'])
    assert.equal(machine.tenant, 'headquarters')
  })

  test('ignore, then deny: rogue\'s rule waits with the reason, now and fetch are refused', async () => {
    await rogue.json(['peer', 'add', dr.address, '--name', 'dr'])
    const ignored = await dr.cli(['peer', 'ignore', 'rogue'])
    assert.equal(ignored.code, 0, ignored.stderr)
    assert.deepEqual(await dr.json(['peer', 'requests']), [])
    assert.equal((await peerOn(rogue, dr)).state, 'requested', 'an ignored request gets no answer')

    const rule = await rogue.json(['replicate', 'web01', '--to', 'dr'])
    assert.equal(rule.state, 'error')
    assert.equal(rule.error, 'dr has not approved this Core yet')
    await backup(rogue, 'web01')
    const now = await rogue.cli(['replication', 'now', 'web01', '--to', 'dr'])
    assert.equal(now.code, 1)
    assert.equal(now.stderr, 'drcore: cannot replicate web01 to dr: dr has not approved this Core yet\n')

    await rogue.json(['peer', 'add', dr.address])
    await waitFor('rogue\'s second request', async () => await dr.json(['peer', 'requests']), r => r.length === 1)
    await dr.json(['peer', 'deny', 'rogue'])
    await waitFor('rogue to hear the denial', async () => await peerOn(rogue, dr), p => p.state === 'denied')
    const [row] = await rogue.json(['replication', 'list'])
    assert.equal(row.state, 'error')
    assert.equal(row.error, 'dr denied this Core\'s pairing request')
    assert.equal(row.bytesSent, 0)
    const fetch = await rogue.cli(['fetch', 'web01', '--from', 'dr'])
    assert.equal(fetch.code, 1)
    assert.match(fetch.stderr, /^drcore: peer dr \(12D3KooW\w+\) has not approved this Core \(pairing: denied\)/)
    assert.equal(fetch.stderr.trim().split('\n').length, 1)
    assert.deepEqual((await dr.api('machines') as any[]).map(m => m.tenant), ['headquarters'], 'nothing of rogue on dr')
  })

  test('allow, then forget: a peer dr no longer knows is refused on replicate and on fetch', async () => {
    await dr.json(['peer', 'allow', branch.peerId, '--name', 'branch'])
    const paired = await branch.json(['peer', 'add', dr.address, '--name', 'dr'])
    assert.equal(paired.state, 'approved', 'allowed beforehand: approved at once')
    assert.equal(paired.canSendTo, true)
    await branch.json(['replicate', 'mail01', '--to', 'dr'])
    const first = await backup(branch, 'mail01')
    await waitFor('mail01 on dr', async () => await pointsOnDr('mail01'), p => p.includes(first))

    await dr.json(['peer', 'remove', 'branch'])
    await backup(branch, 'mail01')
    const failed = await waitFor('branch\'s job to be refused', async () => await branch.rule('mail01', dr), r => r.state === 'error')
    const refusal = (protocol: string): RegExp => new RegExp(`^peer dr \\(${dr.peerId}\\): this Core has not approved peer ${branch.peerId}; ${protocol} is for approved peers only`)
    assert.match(failed.error, refusal('/drcore/replicate/2'))
    const fetch = await branch.cli(['fetch', 'mail01', '--from', 'dr'])
    assert.equal(fetch.code, 1)
    assert.match(fetch.stderr.replace(/^drcore: /, ''), refusal('/drcore/fetch/2'))
    const refused = await dr.events('peer.refused')
    const protocols = new Set(refused.filter(e => e.data.peerId === branch.peerId).map(e => e.data.protocol))
    assert.ok(protocols.has('/drcore/replicate/2') && protocols.has('/drcore/fetch/2'), `refused on: ${[...protocols].join(', ')}`)
    assert.deepEqual(await pointsOnDr('mail01'), [first], 'the second point never landed')
  })

  test('deny while the peer is away: its connections are refused before any protocol', async () => {
    await hq.stop()
    await dr.json(['peer', 'deny', 'hq'])
    await hq.start()
    assert.equal((await peerOn(hq, dr)).canSendTo, true, 'hq has not heard of the denial')
    const point = await backup(hq, 'web01')
    const now = await hq.cli(['replication', 'now', 'web01', '--to', 'dr'])
    assert.equal(now.code, 1)
    assert.match(now.stderr, new RegExp(`^drcore: cannot reach peer dr \\(${dr.peerId}\\) at /ip4/127\\.0\\.0\\.1/tcp/${dr.port}/`))
    const fetch = await hq.cli(['fetch', 'web01', '--from', 'dr'])
    assert.equal(fetch.code, 1)
    // refused at the connection again, unless dr's denial reached hq meanwhile (dr delivers it)
    assert.match(fetch.stderr, /^drcore: (cannot reach peer dr|peer dr \(\w+\) has not approved this Core \(pairing: denied\))/)
    for (const r of [now, fetch]) assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
    assert.ok(!(await pointsOnDr('web01')).includes(point))
  })
})
