import assert from 'node:assert/strict'
import { after, afterEach, describe, it } from 'node:test'
import { NotAuthorizedError } from '../../src/errors.ts'
import { PeerUnreachableError, RateLimitedError } from '../../src/net/index.ts'
import { FETCH_PROTOCOL, PAIR_PROTOCOL, REPLICATE_PROTOCOL } from '../../src/protocol/index.ts'
import type { Message } from '../../src/protocol/index.ts'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { until } from '../support/wait.ts'
import { TestCore } from '../support/core.ts'
import type { TestCoreOptions } from '../support/core.ts'

const cores: TestCore[] = []
async function core (name: string, pairing?: TestCoreOptions['pairing']): Promise<TestCore> {
  const c = await TestCore.create(name, { pairing })
  cores.push(c)
  return c
}
afterEach(async () => {
  await Promise.all(cores.splice(0).map(async c => { await c.destroy() }))
})

const point = CID.createV1(0x71, Digest.create(0x12, new Uint8Array(32)))

describe('pairing', () => {
  it('approve: the requester sees requested, then approved, and both sides record an event', async () => {
    const a = await core('site-a')
    const b = await core('site-b')

    const asked = await a.pairing.request(b.address, { name: 'dr' })
    assert.equal(asked.state, 'requested')
    assert.equal(asked.name, 'dr')
    assert.equal(asked.canSendTo, false)
    assert.deepEqual(b.pairing.requests().map(p => [p.peerId, p.name, p.state]), [[a.peerId, 'site-a', 'pending']])
    assert.equal(b.events.ofType('pairing.requested')[0].data.by, 'remote')
    assert.equal(a.events.ofType('pairing.requested')[0].data.by, 'local')

    const approved = await b.pairing.approve('site-a')
    assert.equal(approved.state, 'approved')
    assert.equal(approved.tenant, 'site-a', 'the tenant defaults to the peer\'s name')
    assert.equal(approved.accepts, true)
    assert.equal(approved.canSendTo, false, 'approval is directional: B may not send to A')

    await until(() => a.events.ofType('pairing.approved').length > 0)
    const view = a.view(b)
    assert.deepEqual(view && { state: view.state, canSendTo: view.canSendTo, accepts: view.accepts, name: view.name }, { state: 'approved', canSendTo: true, accepts: false, name: 'dr' })
    assert.equal(a.core.peers.canSendTo(b.peerId), true)
    assert.equal(a.core.peers.isAccepted(b.peerId), false)
    assert.deepEqual(a.events.ofType('pairing.approved').map(e => e.data.by), ['remote'])
    assert.deepEqual(b.events.ofType('pairing.approved').map(e => e.data), [{ peerId: a.peerId, name: 'site-a', by: 'local', tenant: 'site-a' }])
    await until(() => b.core.peers.undelivered().length === 0)
  })

  it('peer list has the contract fields, with online and the addresses to dial', async () => {
    const a = await core('site-a')
    const b = await core('site-b')
    await a.pairing.request(b.address)
    const listed = b.pairing.list()
    assert.equal(listed.length, 1)
    for (const key of ['peerId', 'name', 'state', 'tenant', 'online', 'addresses']) assert.ok(key in listed[0], key)
    assert.equal(listed[0].online, true)
    const aPort = a.address.split('/')[4]
    assert.deepEqual(listed[0].addresses, [`/ip4/127.0.0.1/tcp/${aPort}`])
    assert.deepEqual(a.view(b)?.addresses, [b.address.replace(/\/p2p\/.*$/, '')])
  })

  it('deny: the requester sees denied, and its connections are refused from then on', async () => {
    const a = await core('site-a')
    const b = await core('site-b')
    await a.pairing.request(b.address)
    const denied = await b.pairing.deny(a.peerId)
    assert.equal(denied.state, 'denied')
    assert.equal(b.core.peers.isDenied(a.peerId), true)
    await until(() => a.events.ofType('pairing.denied').length > 0)
    assert.equal(a.view(b)?.state, 'denied')
    assert.equal(a.view(b)?.canSendTo, false)
    assert.equal(a.events.ofType('pairing.denied')[0].level, 'warning')
    assert.equal(a.events.ofType('pairing.denied')[0].data.by, 'remote')

    // B told A on a connection B opened; once that is gone, A cannot even connect
    await until(() => b.core.peers.undelivered().length === 0)
    await a.node.hangUp(b.peerId)
    await assert.rejects(a.pairing.request(b.address), PeerUnreachableError)
    assert.equal(a.view(b)?.state, 'denied', 'a failed request changes nothing')
    assert.deepEqual(b.pairing.requests(), [])
  })

  it('ignore: the request is dropped silently; the requester stays requested and may ask again', async () => {
    const a = await core('site-a')
    const b = await core('site-b')
    await a.pairing.request(b.address)
    await b.pairing.ignore('site-a')
    assert.deepEqual(b.pairing.list(), [], 'B keeps nothing of a peer it never asked')
    assert.equal(b.events.ofType('pairing.ignored').length, 1)

    assert.equal((await a.pairing.query(b.peerId)).state, 'requested')
    assert.equal(a.events.ofType('pairing.denied').length, 0, 'A is told nothing')

    await a.pairing.request(b.address)
    assert.deepEqual(b.pairing.requests().map(p => p.peerId), [a.peerId])
    assert.equal(b.events.ofType('pairing.requested').length, 2)
  })

  it('allow: a pre-approved peer is approved the moment it asks', async () => {
    const a = await core('site-a')
    const b = await core('site-b')
    const allowed = await b.pairing.allow(a.peerId, { name: 'branch', tenant: 'acme' })
    assert.deepEqual([allowed.state, allowed.tenant, allowed.accepts], ['approved', 'acme', true])

    const asked = await a.pairing.request(b.address)
    assert.equal(asked.state, 'approved')
    assert.equal(asked.canSendTo, true)
    assert.equal(b.view(a)?.name, 'branch', 'the operator\'s name wins over the announced one')
    assert.equal(b.core.peers.get(a.peerId)?.announcedName, 'site-a')
    assert.equal(b.core.peers.tenantOf(a.peerId), 'acme')
    assert.deepEqual(b.events.ofType('pairing.approved').map(e => e.data.allowed), [true])
    assert.deepEqual(a.events.ofType('pairing.approved').map(e => e.data.by), ['remote'])
  })

  it('mutual replication takes a decision on each side', async () => {
    const a = await core('site-a')
    const b = await core('site-b')
    await a.pairing.request(b.address)
    await b.pairing.approve(a.peerId)
    await b.pairing.request(a.address)
    await a.pairing.approve(b.peerId, { tenant: 'partner' })
    await until(() => a.view(b)?.canSendTo === true && b.view(a)?.canSendTo === true)
    for (const [x, y] of [[a, b], [b, a]]) {
      const view = x.view(y)
      assert.deepEqual(view && [view.state, view.accepts, view.canSendTo], ['approved', true, true])
    }
    assert.equal(a.core.peers.tenantOf(b.peerId), 'partner')
  })

  it('a decision taken while the requester is offline reaches it when it is back', async () => {
    const a = await core('site-a')
    const b = await core('site-b')
    await a.pairing.request(b.address)
    await a.stop()
    await b.pairing.approve(a.peerId)
    await b.pairing.deliverDecisions()
    assert.equal(b.core.peers.undelivered().length, 1, 'undelivered while A is offline: kept for a retry')

    await a.start()
    assert.equal(a.view(b)?.state, 'requested')
    // A learns it either by asking, or from B when A connects: both happen here
    assert.equal((await a.pairing.query(b.peerId)).state, 'approved')
    await until(() => b.core.peers.undelivered().length === 0)
    assert.equal(a.events.ofType('pairing.approved').length, 1, 'one event, however it was learnt')
  })

  it('revoking an approval tells the peer and closes its connections', async () => {
    const a = await core('site-a')
    const b = await core('site-b')
    await b.pairing.allow(a.peerId)
    await a.pairing.request(b.address)
    assert.equal(a.view(b)?.canSendTo, true)
    await b.pairing.deny(a.peerId)
    await until(() => a.events.ofType('pairing.denied').length > 0)
    assert.equal(a.view(b)?.state, 'denied')
    assert.equal(a.core.peers.canSendTo(b.peerId), false)
  })

  it('remove forgets the peer and hangs up', async () => {
    const a = await core('site-a')
    const b = await core('site-b')
    await a.pairing.request(b.address)
    await b.pairing.remove('site-a')
    assert.deepEqual(b.pairing.list(), [])
    await until(() => !a.node.isOnline(b.peerId))
    assert.equal(b.events.ofType('peer.removed').length, 1)
  })

  it('refuses a request to a peer id that is not at that address, or to itself, and records nothing', async () => {
    const a = await core('site-a')
    const b = await core('site-b')
    const c = await core('site-c')
    const wrong = b.address.replace(b.peerId, c.peerId)
    await assert.rejects(a.pairing.request(wrong), PeerUnreachableError)
    await assert.rejects(a.pairing.request(a.address), /a Core cannot pair with itself/)
    await assert.rejects(a.pairing.request('/ip4/127.0.0.1/tcp/1'), /must end in \/p2p\/<peerId>/)
    assert.deepEqual(a.pairing.list(), [])
  })
})

describe('trust: who may use which protocol', () => {
  /** B serves replicate and fetch through the trust-checked handle() with stubs whose bodies record that they ran. */
  async function target (): Promise<{ b: TestCore, ran: string[] }> {
    const b = await core('site-b')
    const ran: string[] = []
    // the engine's handlers make way for these (the node checks the peer before either runs)
    await b.node.unhandle(REPLICATE_PROTOCOL)
    await b.node.unhandle(FETCH_PROTOCOL)
    await b.node.handle(REPLICATE_PROTOCOL, async (wire, { peer }) => {
      ran.push(`replicate ${peer}`)
      await wire.expect('offer')
      await wire.send({ type: 'offer-reply', known: false, complete: false, accepted: true, reason: null })
    })
    await b.node.handle(FETCH_PROTOCOL, async (wire, { peer }) => {
      ran.push(`fetch ${peer}`)
      await wire.expect('list-points')
      await wire.send({ type: 'points', points: [] })
    })
    return { b, ran }
  }

  const exchanges: Array<[string, Message, Message['type']]> = [
    [REPLICATE_PROTOCOL, { type: 'offer', point, manifest: new Uint8Array([0xa0]), seed: false }, 'offer-reply'],
    [FETCH_PROTOCOL, { type: 'list-points', machine: null }, 'points']
  ]

  it('an unknown peer is refused on every protocol but pairing, before any handler body runs', async () => {
    const { b, ran } = await target()
    const stranger = await core('stranger')
    for (const [protocol, message, reply] of exchanges) {
      const wire = await stranger.node.open(b.peerId, protocol, { addresses: [b.address] })
      await assert.rejects(wire.request(message, reply), (err: Error) =>
        err instanceof NotAuthorizedError && err.message.includes(`has not approved peer ${stranger.peerId}; ${protocol} is for approved peers only`))
    }
    assert.deepEqual(ran, [])
    const status = await stranger.node.open(b.peerId, PAIR_PROTOCOL, { addresses: [b.address] })
    assert.equal((await status.request({ type: 'pair-query' }, 'pair-status')).state, 'none')
  })

  it('a pending peer, and a peer that approved us but that we did not approve, are refused too', async () => {
    const { b, ran } = await target()
    const a = await core('site-a')
    await a.pairing.request(b.address) // pending on B
    await b.pairing.request(a.address)
    await a.pairing.approve(b.peerId) // A lets B send to A; B has not decided about A
    await until(() => b.view(a)?.canSendTo === true)
    assert.equal(b.view(a)?.state, 'pending')
    for (const [protocol, message, reply] of exchanges) {
      const wire = await a.node.open(b.peerId, protocol)
      await assert.rejects(wire.request(message, reply), NotAuthorizedError)
    }
    assert.deepEqual(ran, [])
  })

  it('a denied peer is refused at the connection, on every protocol including pairing', async () => {
    const { b, ran } = await target()
    const d = await core('site-d')
    await d.pairing.request(b.address)
    await b.pairing.deny(d.peerId)
    await until(() => b.core.peers.undelivered().length === 0)
    await d.node.hangUp(b.peerId)
    for (const protocol of [PAIR_PROTOCOL, REPLICATE_PROTOCOL, FETCH_PROTOCOL]) {
      await assert.rejects(d.node.open(b.peerId, protocol, { addresses: [b.address] }), (err: Error) =>
        err instanceof PeerUnreachableError && /may have denied this Core/.test(err.message))
    }
    assert.deepEqual(ran, [])
  })

  it('an approved peer is served on every protocol', async () => {
    const { b, ran } = await target()
    const a = await core('site-a')
    await b.pairing.allow(a.peerId)
    for (const [protocol, message, reply] of exchanges) {
      const wire = await a.node.open(b.peerId, protocol, { addresses: [b.address] })
      assert.equal((await wire.request(message, reply)).type, reply)
    }
    assert.deepEqual(ran, [`replicate ${a.peerId}`, `fetch ${a.peerId}`])
  })

  it('rate-limits pairing requests per peer and per address', async () => {
    const b = await core('site-b', { perPeer: { limit: 2, intervalMs: 60_000 }, perAddress: { limit: 4, intervalMs: 60_000 } })
    const a = await core('site-a')
    await a.pairing.request(b.address)
    await a.pairing.request(b.address)
    await assert.rejects(a.pairing.request(b.address), (err: Error) =>
      err instanceof RateLimitedError && err.message.includes(`too many pairing requests from peer ${a.peerId}`))
    assert.equal(a.view(b)?.state, 'requested', 'the refused request left A as it was')
    const c = await core('site-c')
    await c.pairing.request(b.address)
    await c.pairing.request(b.address)
    const e = await core('site-e')
    await assert.rejects(e.pairing.request(b.address), (err: Error) => err instanceof RateLimitedError && err.message.includes('127.0.0.1'))
    assert.deepEqual(b.pairing.requests().map(p => p.name).sort(), ['site-a', 'site-c'])
  })
})

after(() => {
  assert.equal(cores.length, 0)
})
