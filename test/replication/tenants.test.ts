import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { NotFoundError } from '../../src/errors.ts'
import type { WireStream } from '../../src/net/index.ts'
import { isRaw } from '../../src/points/blocks.ts'
import { walkClosure } from '../../src/points/closure.ts'
import { loadManifest, parsePointId, signManifest } from '../../src/points/manifest.ts'
import type { SignedPoint } from '../../src/points/api.ts'
import { bitmapIndexes, FETCH_PROTOCOL, REPLICATE_PROTOCOL } from '../../src/protocol/index.ts'
import { tempDir, removeDir } from '../support/dirs.ts'
import { TestCore, pair } from '../support/core.ts'

const KiB = 1024

async function closureOf (core: TestCore, point: SignedPoint): Promise<CID[]> {
  const cids: CID[] = []
  for await (const cid of walkClosure(core.core.store, point)) if (!cid.equals(point.id)) cids.push(cid)
  return cids
}

/**
 * Two tenants on one target: alpha and beta back up one identical file each (so they share
 * blocks), and one file of their own. Neither may list, fetch or even detect the other's data.
 */
describe('two tenants on one target see only their own points and blocks', { timeout: 120_000 }, () => {
  let work: string
  let target: TestCore
  let alpha: TestCore
  let beta: TestCore
  let alphaPoint: SignedPoint
  let betaPoint: SignedPoint
  /** blocks only alpha's point holds */
  let alphaOnly: CID[]
  let commonBytes: number

  before(async () => {
    work = await tempDir('drcore-tenants-')
    const shared = randomBytes(300 * KiB)
    for (const who of ['alpha', 'beta']) {
      await mkdir(join(work, who))
      await writeFile(join(work, who, 'common.bin'), shared)
      await writeFile(join(work, who, `${who}.bin`), randomBytes(200 * KiB))
    }
    ;[target, alpha, beta] = await Promise.all([TestCore.create('msp'), TestCore.create('alpha'), TestCore.create('beta')])
    await pair(alpha, target, { tenant: 'alpha' })
    await pair(beta, target, { tenant: 'beta' })
    alphaPoint = await loadManifest(alpha.core.store, (await alpha.backup('web-a', join(work, 'alpha'))).point)
    betaPoint = await loadManifest(beta.core.store, (await beta.backup('web-b', join(work, 'beta'))).point)
    const betaKeys = new Set((await closureOf(beta, betaPoint)).map(String))
    const alphaBlocks = await closureOf(alpha, alphaPoint)
    alphaOnly = alphaBlocks.filter(cid => !betaKeys.has(String(cid)))
    commonBytes = 0
    for (const cid of alphaBlocks) if (betaKeys.has(String(cid))) commonBytes += (await alpha.core.store.size(cid))!
    assert.ok(commonBytes >= 300 * KiB, 'the identical file gives both closures the same chunks')
    await alpha.addRule('web-a', target)
    await alpha.replicateNow('web-a', target)
    await beta.addRule('web-b', target)
  })
  after(async () => {
    await Promise.all([target?.destroy(), alpha?.destroy(), beta?.destroy()])
    await removeDir(work)
  })

  async function open (protocol: string): Promise<WireStream> {
    return await beta.node.open(target.peerId, protocol, { addresses: [target.address] })
  }

  test('blocks another tenant stored look missing: the source sends them, the target stores them once', async () => {
    const before = await target.storedBlocks()
    const result = await beta.replicateNow('web-b', target)
    assert.deepEqual(result.sent, [betaPoint.id.toString()])
    assert.ok(result.bytesSent >= 500 * KiB, `beta sent its whole closure, the shared file included (${result.bytesSent} bytes)`)
    const after = await target.storedBlocks()
    // what beta sent, minus the shared chunks already stored, plus its manifest
    assert.equal(after.rawBytes - before.rawBytes, result.bytesSent - commonBytes + betaPoint.bytes.length)
    assert.equal((await target.core.points.get(betaPoint.id.toString(), 'beta'))?.complete, true)
  })

  test("a tenant's listing and status show its own points only", async () => {
    const fetch = await open(FETCH_PROTOCOL)
    const all = await fetch.request({ type: 'list-points', machine: null }, 'points')
    assert.deepEqual(all.points.map(p => [p.machine, p.point.toString()]), [['web-b', betaPoint.id.toString()]])
    const other = await fetch.request({ type: 'list-points', machine: 'web-a' }, 'points')
    assert.deepEqual(other.points, [])
    await fetch.close()
    const replicate = await open(REPLICATE_PROTOCOL)
    const status = await replicate.request({ type: 'status', machine: 'web-a' }, 'status-reply')
    assert.deepEqual(status.points, [])
    await replicate.close()
  })

  test("another tenant's point is not found, exactly like a point that does not exist", async () => {
    const notFound = async (point: CID): Promise<string> => {
      const fetch = await open(FETCH_PROTOCOL)
      const err = await fetch.request({ type: 'get-point', point }, 'point').then(() => undefined, (e: Error) => e)
      assert.ok(err instanceof NotFoundError, `get-point ${point}: ${err}`)
      return err.message.replace(point.toString(), '<id>')
    }
    const nowhere = parsePointId('bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
    assert.equal(await notFound(alphaPoint.id), await notFound(nowhere))
  })

  test("another tenant's blocks look missing to have? and want, whatever CIDs are asked", async () => {
    const fetch = await open(FETCH_PROTOCOL)
    const asked = [...alphaOnly, alphaPoint.id]
    // the first frame must be want-done: a block before it (or the stream ending) fails expect()
    const done = await fetch.request({ type: 'want', cids: asked }, 'want-done')
    assert.deepEqual(bitmapIndexes(done.missing), asked.map((_, i) => i))
    // its own blocks it gets
    const own = (await closureOf(beta, betaPoint)).slice(0, 3)
    await fetch.send({ type: 'want', cids: own })
    for (let i = 0; i < own.length; i++) {
      const frame = await fetch.receive()
      assert.ok(frame?.type === 'block' && frame.cid.equals(own[i]))
    }
    assert.deepEqual(bitmapIndexes((await fetch.expect('want-done')).missing), [])
    await fetch.close()

    const replicate = await open(REPLICATE_PROTOCOL)
    const offer = await replicate.request({ type: 'offer', point: betaPoint.id, manifest: betaPoint.bytes, seed: false }, 'offer-reply')
    assert.deepEqual(offer, { type: 'offer-reply', known: true, complete: true, accepted: false, reason: `point ${betaPoint.id} is already complete here` })
    await replicate.close()
  })

  test("a point made to reference another tenant's blocks is not complete for its sender", async () => {
    // beta signs a point whose only volume is alpha's private chunk, sends nothing else, and
    // reads the target's answer: "complete" would tell beta that the chunk is stored here
    const secret = alphaOnly.find(isRaw)!
    const probe = await signManifest({
      ...betaPoint.manifest,
      seq: betaPoint.manifest.seq + 1,
      kind: 'incremental',
      parent: betaPoint.id,
      volumes: { data: { root: secret, type: 'file', files: 1, bytes: 1, mode: 0o644, mtime: [0, 0] } }
    }, beta.core.files.privateKey)
    const replicate = await open(REPLICATE_PROTOCOL)
    const offer = await replicate.request({ type: 'offer', point: probe.id, manifest: probe.bytes, seed: true }, 'offer-reply')
    assert.equal(offer.accepted, true)
    const have = await replicate.request({ type: 'have', cids: [secret] }, 'have-reply')
    assert.deepEqual(bitmapIndexes(have.missing), [0])
    // the target asked for it; beta sends nothing and ends the offer
    const ack = await replicate.request({ type: 'done' }, 'ack')
    assert.deepEqual({ complete: ack.complete, missing: ack.missing }, { complete: false, missing: 1 })
    const status = await replicate.request({ type: 'status', machine: 'web-b' }, 'status-reply')
    assert.deepEqual(status.points.map(p => [p.point.toString(), p.complete]), [[betaPoint.id.toString(), true], [probe.id.toString(), false]])
    await replicate.close()
  })
})
