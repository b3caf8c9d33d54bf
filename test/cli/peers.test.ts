import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { DaemonCore } from '../support/daemon.ts'
import { tempDir, removeDir } from '../support/dirs.ts'
import { freePort } from '../support/wait.ts'

/**
 * `peer add` on a peer this Core knows changes nothing unless that address proves to reach
 * that peer, and never renames it; `peer set` renames, `peer remove-address` forgets an address.
 */
describe('peers: names and addresses change only when asked', { timeout: 300_000 }, () => {
  let work: string
  let a: DaemonCore
  let b: DaemonCore
  let c: DaemonCore
  before(async () => {
    work = await tempDir()
    ;[a, b, c] = await Promise.all(['a', 'b', 'c'].map(async name => await DaemonCore.init(work, name)))
    await Promise.all([a.start(), b.start(), c.start()])
    await a.pairWith(b)
  })
  after(async () => {
    await Promise.all([a, b, c].map(async core => await core?.stop()))
    await removeDir(work)
  })

  const peerB = async (): Promise<any> => (await a.json(['peer', 'list'])).find((p: any) => p.peerId === b.peerId)

  test('an address where another Core answers is refused in one line, and the known peer keeps its name and addresses', async () => {
    const before = await peerB()
    const wrong = `/ip4/127.0.0.1/tcp/${c.port}/p2p/${b.peerId}`
    const r = await a.cli(['peer', 'add', wrong, '--name', 'bad'])
    assert.equal(r.code, 1)
    assert.equal(r.stderr, `drcore: another Core than peer b (${b.peerId}) listens at /ip4/127.0.0.1/tcp/${c.port}: check the address (drcore id on that Core prints its own)\n`)
    assert.deepEqual(await peerB(), before)
  })

  test('an address where nothing listens is refused in one line, and nothing is kept', async () => {
    const before = await peerB()
    const port = await freePort()
    const r = await a.cli(['peer', 'add', `/ip4/127.0.0.1/tcp/${port}/p2p/${b.peerId}`, '--name', 'bad'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, new RegExp(`^drcore: cannot reach peer b \\(${b.peerId}\\) at /ip4/127\\.0\\.0\\.1/tcp/${port}/p2p/${b.peerId}: .*\\n$`))
    assert.deepEqual(await peerB(), before)
    const unknown = `/ip4/127.0.0.1/tcp/${port}/p2p/${c.peerId}`
    assert.equal((await a.cli(['peer', 'add', unknown, '--name', 'never'])).code, 1)
    assert.equal((await a.json(['peer', 'list'])).some((p: any) => p.peerId === c.peerId), false, 'an unknown peer at a dead address is not recorded')
  })

  test('peer add of a known peer at its right address keeps its name and says how to rename it', async () => {
    const r = await a.cli(['peer', 'add', b.address, '--name', 'other'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stderr, 'note: this Core knows the peer as b; it keeps that name (drcore peer set b --name other renames it)\n')
    assert.equal((await peerB()).name, 'b')
  })

  test('peer set --name renames a peer, and a name another peer has is refused', async () => {
    await a.json(['peer', 'add', c.address, '--name', 'c'])
    const taken = await a.cli(['peer', 'set', 'b', '--name', 'c'])
    assert.equal(taken.code, 1)
    assert.match(taken.stderr, /^drcore: the name c is already used by peer /)
    const renamed = await a.json(['peer', 'set', 'b', '--name', 'siteB'])
    assert.equal(renamed.name, 'siteB')
    assert.equal((await peerB()).name, 'siteB')
    const events = await a.events('peer.renamed')
    assert.match(events.at(-1).message, new RegExp(`^renamed peer b \\(${b.peerId}\\) to siteB$`))
  })

  test('peer remove-address forgets one address; an address the peer does not have is one line', async () => {
    const bare = b.address.replace(/\/p2p\/.*$/, '')
    assert.ok((await peerB()).addresses.includes(bare))
    const missing = await a.cli(['peer', 'remove-address', 'siteB', '/ip4/127.0.0.1/tcp/1'])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /^drcore: peer siteB \(.*\) has no address \/ip4\/127\.0\.0\.1\/tcp\/1; its addresses: /)
    const after = await a.json(['peer', 'remove-address', 'siteB', b.address])
    assert.equal(after.addresses.includes(bare), false)
    assert.equal((await peerB()).addresses.includes(bare), false)
  })
})
