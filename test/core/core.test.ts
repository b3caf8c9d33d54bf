import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import type { Server } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { join } from 'node:path'
import { closeServices, OfflineCore, OnlineCore, openServices } from '../../src/core/index.ts'
import type { PeerInfo } from '../../src/peers/index.ts'
import type { Overview } from '../../src/status/index.ts'
import { newPeerId } from '../scheduler/harness.ts'
import { newRepository, openOfflineCore, TestCore } from '../support/core.ts'
import { removeDir, tempDir } from '../support/dirs.ts'

/** The CLI's Core when no daemon runs: decisions and rules are records the daemon acts on later. */
describe('an offline Core', { timeout: 30_000 }, () => {
  let work: string
  let core: OfflineCore
  let asking: string

  before(async () => {
    work = await tempDir('drcore-offline-')
    core = await openOfflineCore('hq', work)
    asking = await newPeerId()
    await core.peers.requested(asking, { name: 'branch', addresses: ['/ip4/127.0.0.1/tcp/4101'] })
  })
  after(async () => {
    await core.close()
    await removeDir(work)
  })

  it('says it is offline: no addresses in id and status', async () => {
    assert.deepEqual((await core.run('id', {}) as { addresses: string[] }).addresses, [])
    const status = await core.run('status', {}) as Overview
    assert.deepEqual({ online: status.core.online, addresses: status.core.addresses }, { online: false, addresses: [] })
  })

  it('records pairing decisions in the registry, to be delivered when the daemon starts', async () => {
    const approved = await core.run('peerApprove', { peer: 'branch', tenant: 'site-b' }) as PeerInfo
    assert.deepEqual({ state: approved.state, tenant: approved.tenant, online: approved.online }, { state: 'approved', tenant: 'site-b', online: false })
    assert.deepEqual(core.peers.undelivered().map(r => r.peerId), [asking], 'the decision waits for the network')

    const vault = await newPeerId()
    const allowed = await core.run('peerAllow', { peerId: vault, name: 'vault' }) as PeerInfo
    assert.deepEqual({ state: allowed.state, online: allowed.online }, { state: 'approved', online: false })
    assert.equal((await core.run('peerDeny', { peer: 'vault' }) as PeerInfo).state, 'denied')
    await core.run('peerRemove', { peer: 'vault' })
    assert.deepEqual((await core.run('peers', {}) as PeerInfo[]).map(p => p.name), ['branch'])
  })

  it('refuses to send a pairing request, which needs the network', async () => {
    await assert.rejects(core.run('peerAdd', { address: `/ip4/127.0.0.1/tcp/4101/p2p/${asking}` }), /peerAdd needs the network/)
  })
})

/** `drcore start`'s Core: the services, and the network started on them. */
describe('an online Core', { timeout: 60_000 }, () => {
  let core: TestCore

  before(async () => {
    core = await TestCore.create('hq')
  })
  after(async () => {
    await core?.destroy()
  })

  it('says it is online, with the addresses it listens on', async () => {
    assert.deepEqual((await core.run('id') as { addresses: string[] }).addresses, [core.address])
    const status = await core.run('status') as Overview
    assert.deepEqual({ online: status.core.online, addresses: status.core.addresses }, { online: true, addresses: [core.address] })
  })

  it('a network that cannot start leaves the repository to its opener, which closes it', async () => {
    const work = await tempDir('drcore-no-network-')
    const taken: Server = createServer()
    await new Promise<void>(resolve => taken.listen(0, '127.0.0.1', () => resolve()))
    try {
      const repo = await newRepository(join(work, 'repo'), 'dr')
      const services = await openServices(repo)
      const port = (taken.address() as { port: number }).port
      await assert.rejects(OnlineCore.start(services, { listen: [`/ip4/127.0.0.1/tcp/${port}`] }), /cannot listen on/)
      assert.deepEqual(await services.points.machines(), [], 'the repository is still open')
      await closeServices(services)
      const again = await OfflineCore.open(repo)
      await again.close()
    } finally {
      taken.close()
      await removeDir(work)
    }
  })
})
