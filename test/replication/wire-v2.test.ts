import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import type { VerifyReport } from '../../src/core/index.ts'
import { RemoteError } from '../../src/net/index.ts'
import type { WireStream } from '../../src/net/index.ts'
import { isRaw } from '../../src/points/blocks.ts'
import { walkClosure } from '../../src/points/closure.ts'
import { loadManifest } from '../../src/points/manifest.ts'
import type { SignedPoint } from '../../src/points/api.ts'
import type { RepairReport } from '../../src/repair/index.ts'
import {
  bitmapIndexes, FETCH_PROTOCOL, FETCH_PROTOCOL_V2, REPAIR_PROTOCOL, REPAIR_PROTOCOL_V2, REPLICATE_PROTOCOL, REPLICATE_PROTOCOL_V2
} from '../../src/protocol/index.ts'
import { FLAG_ZSTD } from '../../src/store/pack-format.ts'
import { tempDir, removeDir } from '../support/dirs.ts'
import { damageBlock } from '../helpers/damage.ts'
import { checkRealDataTools, compareTrees, copyCorpus } from '../helpers/real-data.ts'
import type { Corpus } from '../helpers/real-data.ts'
import { TestCore, pair } from '../support/core.ts'

const MiB = 1024 * 1024

async function closureOf (core: TestCore, point: string): Promise<{ signed: SignedPoint, cids: CID[] }> {
  const signed = await loadManifest(core.core.store, point)
  const cids: CID[] = []
  for await (const cid of walkClosure(core.core.store, signed)) if (!cid.equals(signed.id)) cids.push(cid)
  return { signed, cids }
}

/** Stored size of every block a Core holds, by CID. */
async function storedSizes (core: TestCore): Promise<Map<string, number>> {
  const sizes = new Map<string, number>()
  for await (const e of core.core.store.entries()) sizes.set(e.cid.toString(), e.storedSize)
  return sizes
}

async function assertVerifies (core: TestCore): Promise<void> {
  const report = await core.run('verify', {}) as VerifyReport
  assert.equal(report.ok, true, `${core.name} verifies: ${JSON.stringify(report).slice(0, 300)}`)
}

async function assertRestores (core: TestCore, machine: string, expected: string, dest: string): Promise<void> {
  await core.core.run('restore', { machine, dest })
  assert.deepEqual(await compareTrees(expected, join(dest, 'data')), [], `${core.name} restores ${machine} as it was`)
}

/** A raw block of the closure that is stored as a zstd frame (the store compressed it). */
async function compressedBlock (core: TestCore, cids: CID[]): Promise<CID> {
  for (const cid of cids) if (isRaw(cid) && ((await core.core.store.getStored(cid)).flags & FLAG_ZSTD) !== 0) return cid
  throw new Error('no raw block of the closure is stored compressed')
}

/**
 * Offers `point` on a version 2 stream by hand, asks which blocks are missing, then lets `send`
 * put whatever it likes on the wire, and says `done`. Resolves with the ack, or rejects with
 * what the target answered.
 */
async function offerByHand (wire: WireStream, signed: SignedPoint, cids: CID[], send: (missing: CID[]) => Promise<void>): Promise<unknown> {
  const reply = await wire.request({ type: 'offer', point: signed.id, manifest: signed.bytes, seed: false }, 'offer-reply')
  assert.equal(reply.accepted, true)
  const have = await wire.request({ type: 'have', cids }, 'have-reply')
  await send(bitmapIndexes(have.missing).map(i => cids[i]))
  return await wire.request({ type: 'done' }, 'ack')
}

/**
 * Replicate, fetch and repair version 2: blocks travel as their source stores them and are
 * stored so by the target after it proved them; a Core that speaks only version 1 is served
 * and spoken to in version 1, both ways. Real data: copies of system directories.
 */
describe('replication version 2 carries blocks as stored, and falls back to version 1', { timeout: 300_000 }, () => {
  let work: string
  let corpus: Corpus
  let a: TestCore
  let b: TestCore
  let old: TestCore
  let point: string

  before(async () => {
    await checkRealDataTools()
    work = await tempDir('drcore-wire2-')
    corpus = await copyCorpus(join(work, 'corpus'), [
      { path: '/usr/bin', maxBytes: 4 * MiB },
      { path: '/usr/include', maxBytes: 2 * MiB },
      { path: '/usr/libexec', maxBytes: 2 * MiB },
      { path: '/etc' }
    ])
    ;[a, b, old] = await Promise.all([
      TestCore.create('a'),
      TestCore.create('b'),
      TestCore.create('old', { engine: { protocolVersions: [1] } })
    ])
    await pair(a, b)
    await pair(a, old)
    await pair(old, a)
    point = (await a.backup('web01', corpus.dir)).point
  })
  after(async () => {
    await Promise.all([a?.destroy(), b?.destroy(), old?.destroy()])
    await removeDir(work)
  })

  test('v2 to v2: the target stores every block as the source stores it, and the wire carries about the stored bytes', async (t) => {
    await a.addRule('web01', b)
    const before = a.engine.metrics.wireBytesSent
    const result = await a.replicateNow('web01', b)
    assert.deepEqual(result.sent, [point])
    const wire = a.engine.metrics.wireBytesSent - before
    assert.equal(a.engine.metrics.streams[REPLICATE_PROTOCOL_V2], 1)
    assert.equal(b.engine.metrics.streams[REPLICATE_PROTOCOL_V2], 1)

    const [source, target] = [await storedSizes(a), await storedSizes(b)]
    const { signed, cids } = await closureOf(a, point)
    let stored = 0
    for (const cid of cids) {
      const key = cid.toString()
      assert.equal(target.get(key), source.get(key), `block ${key} is stored as it came`)
      stored += target.get(key) ?? 0
    }
    for (const cid of cids.slice(0, 200)) {
      const [mine, theirs] = [await a.core.store.getStored(cid), await b.core.store.getStored(cid)]
      assert.ok(mine.flags === theirs.flags && Buffer.from(mine.body).equals(theirs.body), `block ${cid} is byte for byte the source's body`)
    }
    const raw = (await b.storedBlocks()).rawBytes - signed.bytes.length
    t.diagnostic(`${cids.length} blocks: ${raw} bytes raw, ${stored} stored, ${wire} on the wire (${(wire / stored).toFixed(3)}x stored, ${(wire / raw).toFixed(3)}x raw)`)
    assert.ok(wire <= 1.05 * stored, `${wire} wire bytes for ${stored} stored bytes of the blocks sent`)
    assert.ok(stored < 0.8 * raw, 'the real data compresses, so stored frames are worth sending')
    await assertVerifies(b)
    await assertRestores(b, 'web01', corpus.dir, join(work, 'restore-b'))
  })

  test('a v2 source replicates to a v1-only target in version 1, and the v1-only Core replicates to a v2 target in version 1', async () => {
    await a.addRule('web01', old)
    await a.replicateNow('web01', old)
    assert.equal(old.engine.metrics.streams[REPLICATE_PROTOCOL], 1)
    assert.equal(old.engine.metrics.streams[REPLICATE_PROTOCOL_V2], undefined)
    assert.equal(a.engine.metrics.streams[REPLICATE_PROTOCOL], 1, 'a offered version 2 first, then spoke version 1')
    await assertVerifies(old)
    await assertRestores(old, 'web01', corpus.dir, join(work, 'restore-old'))

    const own = join(corpus.dir, 'usr-include')
    await old.backup('old01', own)
    await old.addRule('old01', a)
    await old.replicateNow('old01', a)
    assert.equal(a.engine.metrics.streams[REPLICATE_PROTOCOL], 2, 'a served version 1 to the Core that offers only that')
    await assertVerifies(a)
    await assertRestores(a, 'old01', own, join(work, 'restore-a-old01'))
  })

  test('fetch: a v2 Core fetches from a v2 Core in version 2 and from a v1-only Core in version 1', async () => {
    for (const [from, protocol] of [[b, FETCH_PROTOCOL_V2], [old, FETCH_PROTOCOL]] as const) {
      const home = await TestCore.create(`home-${from.name}`)
      try {
        await pair(home, from, { tenant: 'a' })
        const result = await home.run('fetch', { machine: 'web01', from: from.name })
        assert.deepEqual(result.points, [point])
        assert.equal(home.engine.metrics.streams[protocol], 1)
        assert.equal(from.engine.metrics.streams[protocol], 1)
        await assertVerifies(home)
        await assertRestores(home, 'web01', corpus.dir, join(work, `restore-home-${from.name}`))
      } finally {
        await home.destroy()
      }
    }
  })

  test('repair: a v2 Core repairs from a v2 Core in version 2, from a v1-only Core in version 1, and serves a v1-only Core in version 1', async () => {
    const { cids } = await closureOf(a, point)
    const nodes = cids.filter(cid => !isRaw(cid))
    const victims = [await compressedBlock(a, cids), nodes[nodes.length - 1]]
    for (const [from, protocol, victim] of [[b, REPAIR_PROTOCOL_V2, victims[0]], [old, REPAIR_PROTOCOL, victims[1]]] as const) {
      await damageBlock(a.repo, victim)
      assert.equal((await a.core.run('verify', {}) as VerifyReport).ok, false)
      const report = await a.run('repair', { from: from.name }) as RepairReport
      assert.deepEqual(report.points.map(p => [p.point, p.state]), [[point, 'whole']])
      assert.equal(a.engine.metrics.streams[protocol], 1, `a repaired over ${protocol}`)
      await assertVerifies(a)
    }
    // the v1-only Core loses a block of its own point and gets it back from a
    const own = await closureOf(old, (await old.core.points.machines()).find(m => m.machine === 'old01')!.latest!)
    await damageBlock(old.repo, await compressedBlock(old, own.cids))
    assert.equal((await old.core.run('verify', {}) as VerifyReport).ok, false)
    const report = await old.run('repair', { from: 'a' }) as RepairReport
    // web01 there holds the same files, so it lost the block too
    assert.ok(report.points.length >= 1 && report.points.every(p => p.state === 'whole'), JSON.stringify(report.points))
    assert.equal(a.engine.metrics.streams[REPAIR_PROTOCOL], 2, 'a served repair version 1')
    await assertVerifies(old)
  })

  describe('a target refuses a stored block that is wrong, naming the peer, and stores nothing of it', () => {
    let tampered: { signed: SignedPoint, cids: CID[] }
    before(async () => {
      // programs the target holds none of (another seeded subset)
      const other = await copyCorpus(join(work, 'tamper'), [{ path: '/usr/bin', maxBytes: 1 * MiB }], 'programs b does not hold')
      tampered = await closureOf(a, (await a.backup('tamper01', other.dir)).point)
    })

    test('a body with one byte changed is a corrupt-block error naming the sender, and a replication.rejected event', async () => {
      const wire = await a.node.open(b.peerId, REPLICATE_PROTOCOL_V2, { addresses: [b.address] })
      let victim: CID | undefined
      await assert.rejects(offerByHand(wire, tampered.signed, tampered.cids, async (missing) => {
        victim = await compressedBlock(a, missing)
        for (const cid of missing) {
          const stored = await a.core.store.getStored(cid)
          if (cid.equals(victim)) stored.body[stored.body.length >> 1] ^= 0x10
          await wire.sendStored(cid, stored)
        }
      }), (err: Error) => err instanceof RemoteError && err.code === 'corrupt-block' && err.message.includes(String(victim)) && err.message.includes(`peer ${a.peerId} sent it as a body that is wrong`))
      wire.abort(new Error('done'))
      if (victim === undefined) throw new Error('no block was sent')
      const [rejected] = b.events.ofType('replication.rejected').slice(-1)
      assert.ok(rejected !== undefined && rejected.message.includes(a.peerId) && rejected.message.includes(victim.toString()), rejected?.message)
      assert.equal(await b.core.store.has(victim), false, 'the wrong body is not stored')
      assert.equal(await b.core.points.get(tampered.signed.id.toString(), 'a'), undefined)
      await assertVerifies(b)
    })

    const malformed: Array<{ name: string, send: (wire: WireStream, missing: CID[]) => Promise<void>, says: RegExp }> = [
      {
        name: 'a stated length over the block limit',
        send: async (wire, missing) => {
          const stored = await a.core.store.getStored(missing[0])
          const body = Buffer.concat([Buffer.from([0x02, stored.flags, 0x81, 0x80, 0x40]), missing[0].bytes, stored.body])
          wire.stream.send(Buffer.concat([frameHeader(body.length), body]))
        },
        says: /malformed frame: stored block \S+ states a length of 1048577 bytes, over the 1048576-byte limit/
      },
      {
        name: 'a raw block frame on a version 2 stream',
        send: async (wire, missing) => { await wire.sendBlock(missing[0], await a.core.store.get(missing[0])) },
        says: /malformed frame: a raw block frame \(block \S+\) on \/drcore\/replicate\/2/
      },
      {
        name: 'a frame cut short by the end of the stream',
        send: async (wire, missing) => {
          const stored = await a.core.store.getStored(missing[0])
          const body = Buffer.concat([Buffer.from([0x02, stored.flags, ...varint(stored.rawLength)]), missing[0].bytes, stored.body])
          wire.stream.send(Buffer.concat([frameHeader(body.length), body.subarray(0, body.length >> 1)]))
          await wire.stream.close()
        },
        says: /malformed frame: stream ended inside a frame/
      }
    ]
    for (const m of malformed) {
      test(`${m.name} is malformed, named in one line`, async () => {
        const wire = await a.node.open(b.peerId, REPLICATE_PROTOCOL_V2, { addresses: [b.address] })
        let answer: unknown
        try {
          await offerByHand(wire, tampered.signed, tampered.cids, async (missing) => {
            await m.send(wire, missing)
            answer = await wire.expect('ack')
          })
        } catch (err) {
          answer = err
        } finally {
          wire.abort(new Error('done'))
        }
        assert.ok(answer instanceof RemoteError && answer.code === 'malformed' && m.says.test(answer.message) && answer.message.includes(a.peerId) && !answer.message.includes('\n'), String(answer))
        assert.equal(await b.core.points.get(tampered.signed.id.toString(), 'a'), undefined)
      })
    }
  })
})

function varint (n: number): number[] {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80)
    n >>>= 7
  }
  out.push(n)
  return out
}

function frameHeader (length: number): Buffer {
  return Buffer.from(varint(length))
}
