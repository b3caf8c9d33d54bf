import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import type { CID } from 'multiformats/cid'
import { NotAuthorizedError } from '../../src/errors.ts'
import { RemoteError } from '../../src/net/index.ts'
import type { WireStream } from '../../src/net/index.ts'
import { cborCid } from '../../src/points/blocks.ts'
import { walkClosure } from '../../src/points/closure.ts'
import { loadManifest } from '../../src/points/manifest.ts'
import type { SignedPoint } from '../../src/points/api.ts'
import { bitmapIndexes, FETCH_PROTOCOL, REPLICATE_PROTOCOL } from '../../src/protocol/index.ts'
import { tempDir, removeDir } from '../support/dirs.ts'
import { until } from '../support/wait.ts'
import { TestCore, pair } from '../support/core.ts'

/**
 * A source that does not follow the protocol, speaking it by hand over a raw wire stream: the
 * target must refuse what is wrong, commit nothing of it, and say so in its event log.
 */
describe('a target rejects what a source must not send', () => {
  let work: string
  let target: TestCore
  let evil: TestCore
  let point: SignedPoint
  let blocks: CID[]

  before(async () => {
    work = await tempDir('drcore-rejects-')
    const src = join(work, 'src')
    await mkdir(src)
    for (let i = 0; i < 5; i++) await writeFile(join(src, `f${i}.bin`), randomBytes(100_000 + i))
    ;[target, evil] = await Promise.all([TestCore.create('dr'), TestCore.create('evil')])
    await pair(evil, target, { tenant: 'evil' })
    const { point: id } = await evil.backup('web01', src)
    point = await loadManifest(evil.core.store, id)
    blocks = []
    for await (const cid of walkClosure(evil.core.store, point)) if (!cid.equals(point.id)) blocks.push(cid)
  })
  after(async () => {
    await Promise.all([target?.destroy(), evil?.destroy()])
    await removeDir(work)
  })

  async function open (protocol = REPLICATE_PROTOCOL, from = evil): Promise<WireStream> {
    return await from.node.open(target.peerId, protocol, { addresses: [target.address] })
  }

  async function offer (wire: WireStream, signed: SignedPoint = point) {
    return await wire.request({ type: 'offer', point: signed.id, manifest: signed.bytes, seed: false }, 'offer-reply')
  }

  async function rejection (count: number) {
    await until(() => target.events.ofType('replication.rejected').length === count)
    return target.events.ofType('replication.rejected')[count - 1]
  }

  test('a block whose bytes do not match its CID ends the transfer; the blocks verified before it stay, no point is committed', async () => {
    const wire = await open()
    assert.equal((await offer(wire)).accepted, true)
    const reply = await wire.request({ type: 'have', cids: blocks }, 'have-reply')
    assert.equal(reply.count, blocks.length)
    const [good, bad] = blocks
    await wire.sendBlock(good, await evil.core.store.get(good))
    const tampered = (await evil.core.store.get(bad)).slice()
    tampered[0] ^= 0xff
    await wire.sendBlock(bad, tampered)
    await wire.send({ type: 'done' }).catch(() => {})
    await assert.rejects(wire.expect('ack'), (err: Error) => err instanceof RemoteError && err.code === 'corrupt-block' && err.message.includes(bad.toString()))

    const event = await rejection(1)
    assert.equal(event.level, 'error')
    assert.equal(event.data.point, point.id.toString())
    assert.equal(event.data.peerId, evil.peerId)
    assert.match(event.message, new RegExp(`rejected point ${point.id} from peer evil \\(${evil.peerId}\\): block ${bad} is corrupt`))
    assert.equal(await target.core.points.get(point.id.toString()), undefined)
    assert.equal(await target.core.store.has(point.id), false)
    assert.equal(await target.core.store.has(bad), false)
    assert.equal(await target.core.store.has(good), true)
  })

  test('a manifest whose signature does not verify is refused at the offer', async () => {
    const forgedManifest = { ...point.manifest, machine: 'payroll' }
    const bytes = dagCbor.encode({ manifest: forgedManifest, signature: point.signature })
    const forged: SignedPoint = { id: cborCid(bytes), manifest: forgedManifest, signature: point.signature, bytes }
    const wire = await open()
    await assert.rejects(offer(wire, forged), (err: Error) => err instanceof RemoteError && err.code === 'bad-signature' &&
      err.message.includes('is not signed by its origin'))
    const event = await rejection(2)
    assert.equal(event.level, 'error')
    assert.equal(event.data.point, forged.id.toString())
    assert.equal(await target.core.points.get(forged.id.toString()), undefined)
    assert.equal(await target.core.store.has(forged.id), false)
    assert.deepEqual((await target.core.points.machines()).map(m => m.machine), [])
  })

  test('a block the target did not ask for, or blocks outside an offer, are refused as malformed', async () => {
    const stray = await open()
    assert.equal((await offer(stray)).accepted, true)
    const known = blocks[0] // this tenant sent it in the first test: the target holds it
    const reply = await stray.request({ type: 'have', cids: [known] }, 'have-reply')
    assert.deepEqual(bitmapIndexes(reply.missing), [], 'not missing')
    await stray.sendBlock(known, await evil.core.store.get(known))
    await assert.rejects(stray.request({ type: 'done' }, 'ack'), (err: Error) => err instanceof RemoteError && err.code === 'malformed' &&
      err.message.includes(`sent block ${known}, which this Core did not report missing`))
    await rejection(3)

    const outside = await open()
    await assert.rejects(outside.request({ type: 'have', cids: [known] }, 'have-reply'), (err: Error) => err instanceof RemoteError &&
      err.code === 'malformed' && err.message.includes('sent have outside an accepted offer'))
    assert.equal(await target.core.points.get(point.id.toString()), undefined)
  })

  test('a point is never accepted by its origin', async () => {
    const own = join(work, 'own')
    await mkdir(own)
    await writeFile(join(own, 'x'), 'the target\'s own data')
    const { point: id } = await target.backup('files01', own)
    const theirs = await loadManifest(target.core.store, id)
    const wire = await open()
    const reply = await offer(wire, theirs)
    assert.deepEqual(reply, { type: 'offer-reply', known: false, complete: false, accepted: false, reason: `this Core is the origin of point ${id}` })
    assert.equal((await target.core.points.records(id)).length, 1, 'only the record of its own backup')
  })

  test('a peer the target has not approved is refused on the replicate and fetch protocols', async () => {
    const stranger = await TestCore.create('stranger')
    try {
      for (const protocol of [REPLICATE_PROTOCOL, FETCH_PROTOCOL]) {
        const wire = await open(protocol, stranger)
        const request = protocol === REPLICATE_PROTOCOL ? wire.request({ type: 'status', machine: 'web01' }, 'status-reply') : wire.request({ type: 'list-points', machine: null }, 'points')
        await assert.rejects(request, (err: Error) => err instanceof NotAuthorizedError && /has not approved peer/.test(err.message))
      }
    } finally {
      await stranger.destroy()
    }
  })
})
