import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Level } from 'level'
import { NotFoundError, UserError } from '../../src/errors.ts'
import { PeerRegistry, stateOf } from '../../src/peers/index.ts'
import type { PeerRecord } from '../../src/peers/index.ts'
import type { RootDb } from '../../src/store/index.ts'
import { RecordingSink } from '../net/nodes.ts'

const newPeerId = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
const [self, p1, p2, p3] = await Promise.all([newPeerId(), newPeerId(), newPeerId(), newPeerId()])
const request = (name: string, addresses = ['/ip4/10.0.0.1/tcp/4101']) => ({ name, addresses })

describe('peer registry', () => {
  let dir: string
  let db: RootDb
  let events: RecordingSink
  let registry: PeerRegistry

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'drcore-peers-'))
    db = new Level(dir)
    await db.open()
    events = new RecordingSink()
    registry = await PeerRegistry.open(db, { self, events })
  })

  afterEach(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('files a request from an unknown peer as pending, adopting the name it announces', async () => {
    assert.equal(await registry.requested(p1, request('site-a')), 'pending')
    const [peer] = registry.requests()
    assert.deepEqual([peer.peerId, peer.name, peer.state, peer.tenant, peer.accepts, peer.canSendTo], [p1, 'site-a', 'pending', null, false, false])
    assert.equal(registry.isAccepted(p1), false)
    assert.equal(registry.statusFor(p1), 'pending')
    assert.equal(await registry.requested(p1, request('site-a')), 'pending')
    assert.equal(events.ofType('pairing.requested').length, 1, 'a repeated request is not news')
  })

  it('adopts an announced name only when it is valid and free', async () => {
    await registry.requested(p1, request('site-a'))
    await registry.requested(p2, request('site-a'))
    await registry.requested(p3, request('bad name\u0007'))
    assert.equal(registry.get(p2)?.name, null)
    assert.equal(registry.get(p2)?.announcedName, 'site-a')
    assert.equal(registry.get(p3)?.name, null)
    await registry.requested(p2, request(p3))
    assert.equal(registry.get(p2)?.name, null, 'a name that is a peer id is never adopted')
  })

  it('approves into the tenant named after the peer, or its peer id, or the one given', async () => {
    await registry.requested(p1, request('site-a'))
    await registry.requested(p2, request('bad name'))
    await registry.requested(p3, request('site-c'))
    assert.equal((await registry.approve('site-a')).tenant, 'site-a')
    assert.equal((await registry.approve(p2)).tenant, p2)
    await assert.rejects(registry.approve(p3, { tenant: 'no/slashes' }), /invalid tenant "no\/slashes"/)
    assert.equal((await registry.approve(p3, { tenant: 'acme' })).tenant, 'acme')
    assert.equal(registry.isAccepted(p1), true)
    assert.equal(registry.tenantOf(p1), 'site-a')
    assert.equal(registry.canSendTo(p1), false, 'our approval says nothing about theirs')
    assert.deepEqual(registry.undelivered().map(r => [r.peerId, r.unsentDecision]).sort(), [[p1, 'approved'], [p2, 'approved'], [p3, 'approved']].sort())
  })

  it('refuses to approve twice, or to approve a peer that never asked', async () => {
    await registry.requested(p1, request('site-a'))
    await registry.approve(p1)
    await assert.rejects(registry.approve(p1, { tenant: 'other' }), (err: Error) => err instanceof UserError && /already approved \(tenant site-a\)/.test(err.message))
    await registry.asking(p2, { address: '/ip4/10.0.0.2/tcp/4101' })
    await assert.rejects(registry.approve(p2), new RegExp(`has not asked to pair; to accept it before it asks: drcore peer allow ${p2}`))
  })

  it('denies: the peer is refused from then on, and told only if it asked', async () => {
    await registry.requested(p1, request('site-a'))
    await registry.asking(p2, { address: '/ip4/10.0.0.2/tcp/4101' })
    assert.equal((await registry.deny(p1)).inbound, 'denied')
    assert.equal(stateOf(registry.resolve(p1)), 'denied')
    assert.equal(registry.isDenied(p1), true)
    assert.equal(await registry.requested(p1, request('site-a')), 'denied', 'asking again changes nothing')
    await registry.deny(p2)
    assert.deepEqual(registry.undelivered().map(r => r.peerId), [p1])
  })

  it('ignores: a peer we never asked is forgotten; one we asked keeps our request', async () => {
    await registry.requested(p1, request('site-a'))
    await registry.ignore('site-a')
    assert.equal(registry.get(p1), undefined)
    assert.equal(registry.statusFor(p1), 'none')
    assert.equal(events.ofType('pairing.ignored').length, 1)
    await assert.rejects(registry.ignore(p1), NotFoundError)

    await registry.asking(p2, { address: '/ip4/10.0.0.2/tcp/4101' })
    await registry.requested(p2, request('site-b'))
    await registry.ignore(p2)
    assert.equal(stateOf(registry.resolve(p2)), 'requested')
    await assert.rejects(registry.ignore(p2), /has no pending pairing request/)
  })

  it('allows a peer ahead of its request, which is then approved at once', async () => {
    await registry.allow(p1, { name: 'branch', tenant: 'acme', address: `/ip4/10.0.0.9/tcp/4101/p2p/${p1}` })
    assert.deepEqual(registry.resolve('branch').addresses, ['/ip4/10.0.0.9/tcp/4101'])
    assert.equal(registry.undelivered().length, 0, 'nobody to tell: it has not asked')
    assert.equal(await registry.requested(p1, request('site-a')), 'approved')
    assert.deepEqual(events.ofType('pairing.approved').map(e => e.data.allowed), [true])
    assert.equal(await registry.requested(p1, request('site-a')), 'approved')
    assert.equal(events.ofType('pairing.approved').length, 1)
    await assert.rejects(registry.allow('not-a-peer'), /not a peer id: not-a-peer/)
    await assert.rejects(registry.allow(self), /cannot pair with itself/)
    await assert.rejects(registry.allow(p2, { address: `/ip4/10.0.0.9/tcp/4101/p2p/${p1}` }), new RegExp(`belongs to peer ${p1}, not ${p2}`))
  })

  it('resolves a peer by id or name, and names an unknown one exactly', async () => {
    await registry.allow(p1, { name: 'branch' })
    assert.equal(registry.resolve('branch').peerId, p1)
    assert.equal(registry.resolve(p1).name, 'branch')
    assert.throws(() => registry.resolve('nobody'), (err: Error) => err instanceof NotFoundError && err.message === 'unknown peer: nobody')
  })

  it('keeps names unique and well-formed', async () => {
    await registry.allow(p1, { name: 'branch' })
    await assert.rejects(registry.allow(p2, { name: 'branch' }), new RegExp(`the name branch is already used by peer ${p1}`))
    await assert.rejects(registry.allow(p2, { name: '-x' }), /invalid peer name "-x"/)
    await assert.rejects(registry.allow(p2, { name: p3 }), /invalid peer name/)
    await assert.rejects(registry.asking(p2, { name: 'x'.repeat(65), address: '/ip4/10.0.0.2/tcp/1' }), /invalid peer name/)
  })

  it('keeps the two directions apart, and shows the relationship as one state', async () => {
    await registry.asking(p1, { address: '/ip4/10.0.0.1/tcp/4101' })
    const view = () => { const p = registry.list().find(x => x.peerId === p1)!; return [p.state, p.accepts, p.canSendTo] }
    assert.deepEqual(view(), ['requested', false, false])
    await registry.answered(p1, 'approved')
    assert.deepEqual(view(), ['approved', false, true])
    assert.equal(registry.isAccepted(p1), false)
    await registry.requested(p1, request('site-a'))
    assert.deepEqual(view(), ['pending', false, true], 'a decision waiting on us comes first')
    await registry.approve(p1)
    assert.deepEqual(view(), ['approved', true, true])
    await registry.decided(p1, 'denied')
    assert.deepEqual(view(), ['approved', true, false])
    await registry.deny(p1)
    assert.deepEqual(view(), ['denied', false, false])
    await registry.answered(p1, 'none')
    assert.equal(registry.get(p1)?.outbound, 'requested', 'a peer holding no request from us leaves ours open')
    await assert.rejects(registry.decided(p2, 'approved'), new RegExp(`this Core has not asked peer ${p2} to pair`))
  })

  it('learns addresses without duplicates or /p2p/, newest first, and only for known peers', async () => {
    await registry.requested(p1, request('site-a', ['/ip4/10.0.0.1/tcp/4101']))
    await registry.seen(p1, ['/ip4/10.0.0.2/tcp/4101', `/ip4/10.0.0.1/tcp/4101/p2p/${p1}`])
    assert.deepEqual(registry.get(p1)?.addresses, ['/ip4/10.0.0.2/tcp/4101', '/ip4/10.0.0.1/tcp/4101'])
    await registry.seen(p1, Array.from({ length: 20 }, (_, i) => `/ip4/10.1.0.${i}/tcp/1`))
    assert.equal(registry.get(p1)?.addresses.length, 16)
    await registry.seen(p2, ['/ip4/10.0.0.3/tcp/4101'])
    assert.equal(registry.get(p2), undefined)
  })

  it('keeps everything across a reopen', async () => {
    await registry.requested(p1, request('site-a'))
    await registry.approve(p1, { tenant: 'acme' })
    await registry.allow(p2, { name: 'branch' })
    await registry.requested(p3, request('site-c'))
    await registry.deny(p3)
    await registry.remove('branch')
    const before = registry.list()
    await db.close()
    db = new Level(dir)
    await db.open()
    const reopened = await PeerRegistry.open(db, { self })
    assert.deepEqual(reopened.list(), before)
    assert.equal(reopened.tenantOf(p1), 'acme')
    assert.equal(reopened.isDenied(p3), true)
    assert.equal(reopened.get(p2), undefined)
  })

  it('stateOf: the table in docs/protocol.md', () => {
    const r = (inbound: PeerRecord['inbound'], outbound: PeerRecord['outbound']) => stateOf({ inbound, outbound } as PeerRecord)
    assert.equal(r('denied', 'approved'), 'denied')
    assert.equal(r('pending', 'denied'), 'pending')
    assert.equal(r('approved', 'none'), 'approved')
    assert.equal(r('none', 'approved'), 'approved')
    assert.equal(r('approved', 'denied'), 'approved')
    assert.equal(r('none', 'denied'), 'denied')
    assert.equal(r('none', 'requested'), 'requested')
  })
})
