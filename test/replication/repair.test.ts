import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import type { VerifyReport } from '../../src/core/index.ts'
import { NotAuthorizedError } from '../../src/errors.ts'
import { errorFromWire, ProtocolNotServedError } from '../../src/net/index.ts'
import type { WireStream } from '../../src/net/index.ts'
import { isRaw, rawCid } from '../../src/points/blocks.ts'
import { walkClosure } from '../../src/points/closure.ts'
import { loadManifest } from '../../src/points/manifest.ts'
import type { RepairReport } from '../../src/repair/index.ts'
import { bitmapIndexes, REPAIR_PROTOCOL, REPAIR_PROTOCOL_V2 } from '../../src/protocol/index.ts'
import { tempDir, removeDir } from '../support/dirs.ts'
import { damageBlock } from '../helpers/damage.ts'
import { copySystemTree, oneChunkFile } from '../helpers/system-data.ts'
import { TestCore, pair } from '../support/core.ts'

/** Sends one `want` and returns the CIDs that came back as blocks and those answered missing. */
async function want (wire: WireStream, cids: CID[]): Promise<{ sent: string[], missing: string[] }> {
  await wire.send({ type: 'want', cids })
  const sent: string[] = []
  while (true) {
    const frame = await wire.receive()
    if (frame === undefined) throw new Error('the stream ended inside a want reply')
    if (frame.type === 'block') sent.push(frame.cid.toString())
    else if (frame.type === 'want-done') return { sent, missing: bitmapIndexes(frame.missing).map(i => cids[i].toString()) }
    else if (frame.type === 'error') throw errorFromWire(wire.peer, frame.code, frame.message)
    else throw new Error(`unexpected ${frame.type}`)
  }
}

/**
 * What `/drcore/repair/1` gives, seen from the asking side: b holds the points of two tenants
 * (a and c) and replicates its own machine m1 to a, not m2. a may get back its own tenant's
 * blocks and those of m1, nothing else, and cannot tell the rest from blocks that do not exist.
 */
describe('the repair protocol serves a peer only what it may have', { timeout: 300_000 }, () => {
  let work: string
  let a: TestCore
  let b: TestCore
  let c: TestCore
  const blocks: Record<'a' | 'c' | 'm1' | 'm2', CID> = {} as any

  before(async () => {
    work = await tempDir('drcore-repair-proto-')
    ;[a, b, c] = await Promise.all([TestCore.create('a'), TestCore.create('b'), TestCore.create('c')])
    await pair(a, b, { tenant: 'a' })
    await pair(c, b, { tenant: 'c' })
    await pair(b, a, { tenant: 'b' })
    const sources: Record<keyof typeof blocks, [TestCore, string, string]> = {
      a: [a, 'web01', '/usr/share/perl/5.36.0/Pod'],
      c: [c, 'web01', '/usr/share/perl/5.36.0/IO'],
      m1: [b, 'm1', '/usr/share/perl/5.36.0/Net'],
      m2: [b, 'm2', '/usr/share/perl/5.36.0/TAP']
    }
    for (const [key, [core, machine, dir]] of Object.entries(sources) as Array<[keyof typeof blocks, [TestCore, string, string]]>) {
      const tree = join(work, key)
      await copySystemTree(tree, [dir])
      blocks[key] = (await oneChunkFile(tree)).cid
      await core.backup(machine, tree)
    }
    // a and c send web01 to b once: a rule, replication now, and the rule removed again
    for (const source of [a, c]) {
      await source.addRule('web01', b)
      await source.replicateNow('web01', b)
      await source.run('ruleRemove', { machine: 'web01', to: b.peerId })
    }
    await b.core.run('ruleAdd', { machine: 'm1', to: a.peerId, paused: true })
    for (const cid of Object.values(blocks)) assert.equal(await b.core.store.has(cid), true, `b stores ${cid}`)
  })
  after(async () => {
    await Promise.all([a?.destroy(), b?.destroy(), c?.destroy()])
    await removeDir(work)
  })

  test("a tenant gets its own blocks and those of points sent to it; another tenant's look like none at all", async () => {
    const madeUp = rawCid(new TextEncoder().encode('a block nobody stored'))
    const wire = await a.node.open(b.peerId, REPAIR_PROTOCOL, { addresses: [b.address] })
    const answer = await want(wire, [blocks.a, blocks.c, blocks.m1, blocks.m2, madeUp])
    await wire.close()
    assert.deepEqual(answer.sent, [blocks.a.toString(), blocks.m1.toString()])
    assert.deepEqual(answer.missing, [blocks.c.toString(), blocks.m2.toString(), madeUp.toString()])
  })

  test('a source serves a target it never approved the blocks of what it replicates to it, and nothing else', async () => {
    const vault = join(work, 'vault')
    await copySystemTree(vault, ['/usr/share/perl/5.36.0/File'])
    const secret = (await oneChunkFile(vault)).cid
    await c.backup('vault', vault)
    assert.equal(c.core.peers.isAccepted(b.peerId), false, 'c never approved b')
    const ask = async (): Promise<string[]> => {
      const wire = await b.node.open(c.peerId, REPAIR_PROTOCOL, { addresses: [c.address] })
      const answer = await want(wire, [blocks.c, secret])
      await wire.close()
      assert.ok(answer.missing.includes(secret.toString()), 'a machine c does not replicate to b stays c\'s')
      return answer.sent
    }
    assert.deepEqual(await ask(), [], 'c sent web01 to b once and removed the rule: nothing is b\'s to ask for')
    await c.core.run('ruleAdd', { machine: 'web01', to: b.peerId, paused: true })
    assert.deepEqual(await ask(), [blocks.c.toString()])
  })

  test('a peer that neither approved this Core nor is sent to is refused', async () => {
    const x = await TestCore.create('x')
    try {
      const wire = await x.node.open(b.peerId, REPAIR_PROTOCOL, { addresses: [b.address] })
      await assert.rejects(want(wire, [blocks.a]), (err: Error) => err instanceof NotAuthorizedError && /has not approved peer .*; \/drcore\/repair\/1 is for approved peers and the peers this Core sends to only/.test(err.message))
    } finally {
      await x.destroy()
    }
  })

  test('a point whose manifest, a directory node and a file block were damaged is rebuilt from the replica', async () => {
    const id = (await a.core.points.machines())[0].latest!
    const closure: CID[] = []
    for await (const cid of walkClosure(a.core.store, await loadManifest(a.core.store, id))) closure.push(cid)
    const node = closure.find(cid => !isRaw(cid) && cid.toString() !== id)!
    for (const cid of [CID.parse(id), node, blocks.a]) await damageBlock(a.repo, cid)
    const verify = await a.core.run('verify', {}) as VerifyReport
    assert.equal(verify.corrupt.length, 3)
    assert.deepEqual(verify.lost, [id])

    const report = await a.run('repair', { from: 'b' }) as RepairReport
    assert.deepEqual(report.points.map(p => [p.point, p.state, p.from]), [[id, 'whole', [{ peerId: b.peerId, name: 'b' }]]])
    assert.ok(report.fetched >= 3, `the manifest, the node and the block came back (${report.fetched} blocks)`)
    assert.equal(report.quarantined, 0)
    assert.equal((await a.core.run('verify', {}) as VerifyReport).ok, true)
  })

  test('engine internals: a peer of an older version, which does not serve repair, is named in one line', async () => {
    await b.node.unhandle(REPAIR_PROTOCOL)
    await b.node.unhandle(REPAIR_PROTOCOL_V2)
    await assert.rejects(a.engine.repairFrom(b.peerId, [CID.parse((await a.core.points.machines())[0].latest!).toString()]),
      (err: Error) => err instanceof ProtocolNotServedError && err.protocol === `${REPAIR_PROTOCOL_V2} or ${REPAIR_PROTOCOL}` && err.message === `peer b (${b.peerId}) does not serve /drcore/repair/2 or /drcore/repair/1 (is it a drcore Core of a compatible version?)`)
  })
})
