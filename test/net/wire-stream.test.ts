import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { CorruptBlockError, MalformedError, NotFoundError, UserError } from '../../src/errors.ts'
import { errorToWire, RemoteError, StreamEndedError } from '../../src/net/index.ts'
import type { DrcoreNode, ProtocolHandler, WireStream } from '../../src/net/index.ts'
import { encodeBlockFrame, encodeMessageFrame } from '../../src/protocol/index.ts'
import type { Frame } from '../../src/protocol/index.ts'
import { startNode } from './nodes.ts'
import { until } from '../support/wait.ts'

const MiB = 1024 * 1024
const rawCid = (bytes: Uint8Array): CID => CID.createV1(0x55, Digest.create(0x12, createHash('sha256').update(bytes).digest()))

/** Pseudo-random block `i` of `size` bytes (distinct CIDs, incompressible enough). */
function block (i: number, size: number): { cid: CID, bytes: Uint8Array } {
  const bytes = new Uint8Array(size)
  let x = i + 1
  for (let j = 0; j < size; j += 4) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5
    bytes[j] = x; bytes[j + 1] = x >> 8; bytes[j + 2] = x >> 16; bytes[j + 3] = x >> 24
  }
  return { cid: rawCid(bytes), bytes }
}

describe('wire streams over libp2p', () => {
  let server: DrcoreNode
  let client: DrcoreNode
  let protocolCount = 0

  before(async () => {
    server = await startNode()
    client = await startNode()
  })

  after(async () => {
    await client.stop()
    await server.stop()
  })

  /** Registers `handler` under a fresh protocol and opens a stream to it. */
  async function connect (handler: ProtocolHandler): Promise<WireStream> {
    const protocol = `/drcore/test-${++protocolCount}/1`
    await server.handle(protocol, handler, { allowUnknown: true })
    return await client.open(server.peerId, protocol, { addresses: server.addresses() })
  }

  it('carries messages and blocks intact, whatever the chunking, and ends cleanly', async () => {
    const blocks = [block(1, MiB), block(2, 0), block(3, 100), block(4, 300_000)]
    const received: Frame[] = []
    const wire = await connect(async (wire) => {
      for (let frame = await wire.receive(); frame != null; frame = await wire.receive()) received.push(frame)
      await wire.send({ type: 'ack', point: CID.createV1(0x71, blocks[0].cid.multihash), complete: true, missing: 0 })
    })
    for (let i = 0; i < 200; i++) await wire.send({ type: 'status', machine: `m${i}` })
    for (const b of blocks) await wire.sendBlock(b.cid, b.bytes)
    await wire.close()
    const ack = await wire.expect('ack')
    assert.equal(ack.complete, true)
    assert.equal(await wire.receive(), undefined)
    assert.equal(received.length, 204)
    assert.deepEqual(received.slice(0, 3).map(f => f.type === 'status' && f.machine), ['m0', 'm1', 'm2'])
    for (const [i, b] of blocks.entries()) {
      const frame = received[200 + i]
      assert.ok(frame.type === 'block')
      assert.equal(frame.cid.toString(), b.cid.toString())
      assert.deepEqual(Buffer.from(frame.bytes), Buffer.from(b.bytes))
    }
  })

  it('stalls a sender whose receiver does not read, then delivers everything once it does', async () => {
    const total = 64
    let release!: () => void
    const reading = new Promise<void>(resolve => { release = resolve })
    let count = 0
    const wire = await connect(async (wire) => {
      await reading
      for (let frame = await wire.receive(); frame != null; frame = await wire.receive()) count++
    })
    let sent = 0
    const sending = (async () => {
      for (let i = 0; i < total; i++) {
        const b = block(i, MiB)
        await wire.sendBlock(b.cid, b.bytes, { signal: AbortSignal.timeout(20_000) })
        sent++
      }
      await wire.close()
    })()
    // wait for the sender to stop making progress (it must, long before it runs out of blocks)
    let stalledAt = -1
    for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
      const before = sent
      await new Promise(resolve => setTimeout(resolve, 400))
      if (sent === before && sent > 0) {
        stalledAt = sent
        break
      }
    }
    assert.ok(stalledAt > 0 && stalledAt < 40, `the sender stalled after ${stalledAt} of ${total} MiB, bounded by the windows and buffers`)
    await new Promise(resolve => setTimeout(resolve, 300))
    assert.equal(sent, stalledAt, 'and stays stalled while nothing is read')
    release()
    await sending
    await until(() => count === total, 10_000)
  })

  it('stops a sender at once when its peer gives up with an error, even while the send waits for the peer to read', { timeout: 30_000 }, async () => {
    // the receiver reads nothing (as a target whose disk filled stops reading), then says why
    const wire = await connect(async (wire) => {
      await new Promise(resolve => setTimeout(resolve, 1000))
      await wire.send({ type: 'error', code: 'refused', message: 'no space left on device on its disk' })
    })
    let sent = 0
    const started = Date.now()
    const sending = (async () => {
      for (let i = 0; i < 200; i++) {
        const b = block(i, MiB)
        await wire.sendBlock(b.cid, b.bytes) // the default deadline is 30 s: only the error ends this early
        sent++
      }
    })()
    await assert.rejects(sending, (err: Error) => err instanceof RemoteError && err.code === 'refused' &&
      err.message === `peer ${server.peerId}: no space left on device on its disk`)
    const seconds = (Date.now() - started) / 1000
    assert.ok(sent > 0 && sent < 40, `the sender was stalled by backpressure when the error came: ${sent} MiB sent`)
    assert.ok(seconds < 5, `stopped ${seconds.toFixed(1)} s after it started, not at the deadline`)
    // every later send fails the same way, and a read still returns the error frame in order
    const b = block(999, 10)
    await assert.rejects(wire.sendBlock(b.cid, b.bytes), RemoteError)
    await assert.rejects(wire.expect('ack'), (err: Error) => err instanceof RemoteError && err.code === 'refused')
  })

  it('refuses a stream that ends inside a frame, naming the peer', async () => {
    const wire = await connect(async (wire) => {
      const frame = encodeMessageFrame({ type: 'status', machine: 'web01' })
      wire.stream.send(frame.subarray(0, frame.length - 2))
    })
    const body = encodeMessageFrame({ type: 'status', machine: 'web01' }).length - 1
    await assert.rejects(wire.receive(), (err: Error) => err instanceof MalformedError &&
      err.message === `peer ${server.peerId} sent a malformed frame: stream ended inside a frame: ${body - 2} of ${body} bytes`)
  })

  it('refuses a bad frame header and a frame that is neither message nor block', async () => {
    const oversized = await connect(async (wire) => { wire.stream.send(new Uint8Array([0xff, 0xff, 0xff, 0x7f])) })
    await assert.rejects(oversized.receive(), /sent a malformed frame: frame of \d+ bytes exceeds the 4194304-byte limit/)
    const garbage = await connect(async (wire) => { wire.stream.send(new Uint8Array([3, 0x12, 0x20, 0])) })
    await assert.rejects(garbage.receive(), /sent a malformed frame: frame starts with byte 0x12/)
  })

  it('refuses a block whose bytes do not match its CID, naming the CID', async () => {
    const b = block(9, 1000)
    const wire = await connect(async (wire) => {
      const tampered = b.bytes.slice()
      tampered[500] ^= 1
      for (const part of encodeBlockFrame(b.cid, tampered)) wire.stream.send(part)
    })
    await assert.rejects(wire.receive(), (err: Error) => err instanceof CorruptBlockError && err.message === `block ${b.cid} is corrupt: the bytes peer ${server.peerId} sent do not match its hash`)
  })

  it('throws the error a peer sends as the matching class, in one printable line', async () => {
    const notFound = await connect(async (wire) => {
      await wire.expect('get-point')
      throw new NotFoundError('no point bafyx in your tenant')
    })
    const point = CID.createV1(0x71, block(1, 1).cid.multihash)
    await assert.rejects(notFound.request({ type: 'get-point', point }, 'point'), (err: Error) =>
      err instanceof NotFoundError && err.message === `peer ${server.peerId}: no point bafyx in your tenant`)

    const refused = await connect(async (wire) => {
      await wire.send({ type: 'error', code: 'refused', message: 'disk\nfull\u0007' })
    })
    await assert.rejects(refused.expect('point'), (err: Error) =>
      err instanceof RemoteError && err.code === 'refused' && err.message === `peer ${server.peerId}: disk full`)
  })

  it('hides the details of a bug from the peer', async () => {
    const wire = await connect(async () => { throw new TypeError('cannot read properties of undefined (secret path /srv/x)') })
    await assert.rejects(wire.expect('points'), (err: Error) =>
      err instanceof RemoteError && err.code === 'internal' && !err.message.includes('secret'))
    assert.deepEqual(errorToWire(new UserError('machine web01 is busy')), { code: 'refused', message: 'machine web01 is busy' })
  })

  it('names what was expected when a peer sends something else, or closes, or resets', async () => {
    const wrong = await connect(async (wire) => { await wire.send({ type: 'pair-ack' }) })
    await assert.rejects(wrong.expect('have-reply'), new RegExp(`^MalformedError: peer ${server.peerId} sent pair-ack where have-reply was expected$`))
    const closed = await connect(async () => {})
    await assert.rejects(closed.expect('offer-reply'), (err: Error) =>
      err instanceof StreamEndedError && err.message === `peer ${server.peerId} closed the stream instead of sending offer-reply`)
    const reset = await connect(async (wire) => { wire.abort(new Error('gone')) })
    await assert.rejects(reset.expect('offer-reply'), (err: Error) => err instanceof StreamEndedError && /was reset|ended/.test(err.message))
  })
})
