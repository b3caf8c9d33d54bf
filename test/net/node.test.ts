import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { NotAuthorizedError } from '../../src/errors.ts'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createNode, ListenError, PeerTimeoutError, PeerUnreachableError, ProtocolNotServedError, RemoteError } from '../../src/net/index.ts'
import type { DrcoreNode } from '../../src/net/index.ts'
import { RecordingSink, startNode, TrustTable } from './nodes.ts'
import { until } from '../support/wait.ts'

const ECHO = '/drcore/test-echo/1'
const OPEN = '/drcore/test-open/1'

describe('node', () => {
  let server: DrcoreNode
  let client: DrcoreNode
  const trust = new TrustTable()
  const events = new RecordingSink()
  const ran: string[] = []

  before(async () => {
    server = await startNode(trust, events)
    client = await startNode()
    await server.handle(ECHO, async (wire, { peer }) => {
      ran.push(`${ECHO} ${peer}`)
      const request = await wire.expect('status')
      await wire.send({ type: 'remove-reply', machine: request.machine, removed: 0 })
    })
    await server.handle(OPEN, async (wire, { peer }) => {
      ran.push(`${OPEN} ${peer}`)
      await wire.expect('pair-query')
      await wire.send({ type: 'pair-status', state: 'none' })
    }, { allowUnknown: true })
  })

  after(async () => {
    await client.stop()
    await server.stop()
  })

  it('lists its listening addresses, each ending in /p2p/<peerId>', () => {
    const addresses = server.addresses()
    assert.ok(addresses.length > 0)
    for (const a of addresses) assert.match(a, new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${server.peerId}$`))
  })

  it('refuses a peer it has not approved before the handler runs, naming peer and protocol', async () => {
    ran.length = 0
    const wire = await client.open(server.peerId, ECHO, { addresses: server.addresses() })
    await assert.rejects(wire.request({ type: 'status', machine: 'web01' }, 'remove-reply'), (err: Error) => {
      assert.ok(err instanceof NotAuthorizedError, `${err.name}: ${err.message}`)
      assert.match(err.message, new RegExp(`^peer ${server.peerId}: this Core has not approved peer ${client.peerId}; ${ECHO} is for approved peers only`))
      return true
    })
    assert.deepEqual(ran, [], 'the handler body never ran')
    assert.equal(client.isOnline(server.peerId.toString()), true, 'the connection itself was allowed (pairing needs it)')
  })

  it('lets an unknown peer reach a protocol registered with allowUnknown', async () => {
    ran.length = 0
    const wire = await client.open(server.peerId, OPEN)
    assert.deepEqual(await wire.request({ type: 'pair-query' }, 'pair-status'), { type: 'pair-status', state: 'none' })
    assert.deepEqual(ran, [`${OPEN} ${client.peerId}`])
  })

  it('serves an approved peer', async () => {
    trust.accepted.add(client.peerId.toString())
    try {
      const wire = await client.open(server.peerId, ECHO)
      const reply = await wire.request({ type: 'status', machine: 'web01' }, 'remove-reply')
      assert.equal(reply.machine, 'web01')
      assert.equal(await wire.receive(), undefined, 'the server closed the stream after its handler returned')
    } finally {
      trust.accepted.delete(client.peerId.toString())
    }
  })

  it('reports a refusal as one peer.refused warning per peer and protocol a minute', () => {
    const refused = events.ofType('peer.refused')
    assert.equal(refused.length, 1)
    assert.equal(refused[0].level, 'warning')
    assert.deepEqual(refused[0].data, { peerId: client.peerId.toString(), protocol: ECHO })
  })

  it('refuses a denied peer at the connection, and on every stream of a connection it did not dial', async () => {
    trust.denied.add(client.peerId.toString())
    ran.length = 0
    try {
      await client.hangUp(server.peerId.toString())
      await assert.rejects(client.open(server.peerId, OPEN, { addresses: server.addresses() }), (err: Error) => {
        assert.ok(err instanceof PeerUnreachableError, `${err.name}: ${err.message}`)
        assert.match(err.message, new RegExp(`cannot reach peer ${server.peerId} at /ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${server.peerId}: .*may have denied this Core`))
        return true
      })
      // the server may still dial a denied peer (to tell it the decision); on that connection the
      // denied peer's own streams are refused by the handler check, even on an open protocol
      await server.libp2p.dial(client.libp2p.getMultiaddrs()[0])
      await until(() => client.isOnline(server.peerId.toString()))
      const wire = await client.open(server.peerId, OPEN)
      await assert.rejects(wire.request({ type: 'pair-query' }, 'pair-status'), (err: Error) =>
        err instanceof NotAuthorizedError && err.message.includes(`this Core has denied peer ${client.peerId}`))
      assert.deepEqual(ran, [])
    } finally {
      trust.denied.delete(client.peerId.toString())
      await client.hangUp(server.peerId.toString())
    }
  })

  it('names the peer when it is unreachable, does not serve the protocol, or does not answer', async () => {
    const other = await startNode()
    const address = other.addresses()[0]
    await other.stop()
    await assert.rejects(client.open(other.peerId, OPEN, { addresses: [address] }), (err: Error) =>
      err instanceof PeerUnreachableError && err.message.startsWith(`cannot reach peer ${other.peerId} at ${address}`))
    await assert.rejects(client.open(other.peerId, OPEN), (err: Error) =>
      err instanceof PeerUnreachableError && /no known address for peer/.test(err.message))
    await assert.rejects(client.open(server.peerId, '/drcore/nonexistent/1', { addresses: server.addresses() }), (err: Error) => {
      // libp2p's negotiation failed with UnsupportedProtocolError: a class of its own, not a refusal
      assert.ok(err instanceof ProtocolNotServedError, `${err.name}: ${err.message}`)
      assert.ok(!(err instanceof RemoteError))
      assert.equal(err.kind, 'unavailable')
      assert.equal(err.peer, server.peerId.toString())
      assert.equal(err.protocol, '/drcore/nonexistent/1')
      assert.equal(err.message, `peer ${server.peerId} does not serve /drcore/nonexistent/1 (is it a drcore Core of a compatible version?)`)
      return true
    })
    await assert.rejects(client.open(server.peerId, OPEN, { addresses: ['/ip4/127.0.0.1/tcp/1/p2p/' + client.peerId.toString()] }),
      /belongs to peer .*, not /)

    const silent = '/drcore/test-silent/1'
    await server.handle(silent, async () => { await new Promise(resolve => setTimeout(resolve, 1000)) }, { allowUnknown: true })
    const wire = await client.open(server.peerId, silent, { timeout: 200 })
    await assert.rejects(wire.request({ type: 'pair-query' }, 'pair-status'), (err: Error) =>
      err instanceof PeerTimeoutError && err.message.includes(`no progress with peer ${server.peerId} before the deadline (0.2 s)`))
    wire.abort(new Error('test over'))
  })
})

describe('a wrong address', () => {
  it('where another Core answers is one sentence naming the peer and the address, not libp2p\'s identity-key message', async () => {
    const [client, expected, other] = await Promise.all([startNode(), startNode(), startNode()])
    try {
      const wrong = other.addresses()[0].replace(/\/p2p\/.*$/, '')
      await assert.rejects(client.open(expected.peerId, OPEN, { addresses: [wrong] }), (err: Error) =>
        err instanceof PeerUnreachableError && err.message.startsWith(`another Core than peer ${expected.peerId} answers at ${wrong}/p2p/${expected.peerId}: `) &&
        !/identity key/.test(err.message))
      await assert.rejects(client.probe(wrong, expected.peerId.toString(), { label: 'dr' }), (err: Error) =>
        err instanceof PeerUnreachableError && err.message.startsWith(`another Core than peer dr listens at ${wrong}: `))
    } finally {
      await Promise.all([client.stop(), expected.stop(), other.stop()])
    }
  })
})

describe('createNode', () => {
  it('names the address it cannot listen on and the system\'s reason, in one line', async () => {
    const first = await startNode()
    try {
      const taken = first.libp2p.getMultiaddrs()[0].toString().replace(/\/p2p\/.*$/, '')
      await assert.rejects(createNode({ privateKey: await generateKeyPair('Ed25519'), listen: [taken], trust: new TrustTable() }), (err: Error) =>
        err instanceof ListenError && err.address === taken && err.code === 'EADDRINUSE' && err.message === `cannot listen on ${taken}: EADDRINUSE`)
    } finally {
      await first.stop()
    }
  })
})
