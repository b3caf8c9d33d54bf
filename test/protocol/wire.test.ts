import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import * as dagCbor from '@ipld/dag-cbor'
import { CarBufferReader, CarWriter } from '@ipld/car'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { identity } from 'multiformats/hashes/identity'
import { CorruptBlockError, MalformedError } from '../../src/errors.ts'
import {
  bitmapIndexes, bitmapOf, decodeFrameBody, decodeFrameHeader, decodeFrames, encodeBlockFrame,
  encodeMessageFrame, encodeStoredBlockFrame, MAX_BLOCK_SIZE, MAX_CIDS_PER_MESSAGE, MAX_FRAME_SIZE, storedBlockFrameLength, verifyBlock
} from '../../src/protocol/index.ts'
import type { Frame, Message, PointSummary } from '../../src/protocol/index.ts'

const RAW = 0x55
const DAG_CBOR = 0x71

const cidOf = (code: number, bytes: Uint8Array): CID =>
  CID.createV1(code, Digest.create(0x12, createHash('sha256').update(bytes).digest()))

const concat = (parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts))

/** Runs `fn`; passes when it returns, or when it throws a MalformedError. Anything else fails. */
function decodesOrMalformed<T> (fn: () => T): T | MalformedError {
  try {
    return fn()
  } catch (err) {
    assert.ok(err instanceof MalformedError, `expected MalformedError, got ${(err as Error)?.name}: ${(err as Error)?.message}`)
    assert.ok(err.message.length > 0)
    return err
  }
}

/** A raw message body, built without validation, for feeding the decoder what a sender would not. */
const body = (value: unknown): Uint8Array => dagCbor.encode(value)

const peerIds = await Promise.all([1, 2, 3].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()))

// --- arbitraries -------------------------------------------------------------------------------

const arbDigestCid = (code: number) => fc.uint8Array({ minLength: 32, maxLength: 32 })
  .map(d => CID.createV1(code, Digest.create(0x12, d)))
const arbBlockCid = fc.oneof(arbDigestCid(RAW), arbDigestCid(DAG_CBOR))
const arbManifestCid = arbDigestCid(DAG_CBOR)
const arbName = fc.oneof(
  fc.string({ minLength: 1, maxLength: 40 }),
  fc.string({ minLength: 1, maxLength: 20, unit: 'grapheme' })
// eslint-disable-next-line no-control-regex -- the control characters a peer's text must not carry
).filter(s => s.length <= 128 && !/[\u0000-\u001f\u007f]/.test(s))
const arbText = fc.string({ maxLength: 200, unit: 'grapheme' })
const arbAddress = fc.tuple(fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 65535 }))
  .map(([a, b, port]) => `/ip4/10.${a}.${b}.1/tcp/${port}`)
const arbTime = fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map(d => d.toISOString())
const arbBitmap = fc.integer({ min: 0, max: 300 }).chain(count =>
  fc.array(fc.nat(Math.max(0, count - 1)), { maxLength: count }).map(bits => ({ count, missing: bitmapOf(count, bits) })))
const arbPoint: fc.Arbitrary<PointSummary> = fc.record({
  point: arbManifestCid,
  machine: arbName,
  cluster: fc.option(arbName, { nil: null }),
  origin: fc.constantFrom(...peerIds),
  seq: fc.integer({ min: 1, max: 1_000_000 }),
  kind: fc.constantFrom('base' as const, 'incremental' as const),
  parent: fc.option(arbManifestCid, { nil: null }),
  createdAt: arbTime,
  complete: fc.boolean()
})

const arbMessage: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ type: fc.constant('error' as const), code: fc.constantFrom('not-authorized' as const, 'rate-limited' as const, 'malformed' as const, 'internal' as const), message: arbText }),
  fc.record({ type: fc.constant('pair-request' as const), name: arbName, addresses: fc.array(arbAddress, { maxLength: 16 }) }),
  fc.constant({ type: 'pair-query' as const }),
  fc.record({ type: fc.constant('pair-status' as const), state: fc.constantFrom('none' as const, 'pending' as const, 'approved' as const, 'denied' as const) }),
  fc.record({ type: fc.constant('pair-decision' as const), decision: fc.constantFrom('approved' as const, 'denied' as const) }),
  fc.constant({ type: 'pair-ack' as const }),
  fc.record({ type: fc.constant('offer' as const), point: arbManifestCid, manifest: fc.uint8Array({ minLength: 1, maxLength: 300 }), seed: fc.boolean() }),
  fc.record({ type: fc.constant('offer-reply' as const), known: fc.boolean(), complete: fc.boolean(), accepted: fc.boolean(), reason: fc.option(arbText, { nil: null }) }),
  fc.record({ type: fc.constant('have' as const), cids: fc.array(arbBlockCid, { maxLength: 40 }) }),
  arbBitmap.map(b => ({ type: 'have-reply' as const, ...b })),
  fc.constant({ type: 'done' as const }),
  fc.record({ type: fc.constant('ack' as const), point: arbManifestCid, complete: fc.boolean(), missing: fc.nat() }),
  fc.record({ type: fc.constant('status' as const), machine: arbName }),
  fc.record({ type: fc.constant('status-reply' as const), machine: arbName, points: fc.array(arbPoint, { maxLength: 5 }) }),
  fc.record({ type: fc.constant('remove-machine' as const), machine: arbName }),
  fc.record({ type: fc.constant('remove-reply' as const), machine: arbName, removed: fc.nat() }),
  fc.record({ type: fc.constant('list-points' as const), machine: fc.option(arbName, { nil: null }) }),
  fc.record({ type: fc.constant('points' as const), points: fc.array(arbPoint, { maxLength: 5 }) }),
  fc.record({ type: fc.constant('get-point' as const), point: arbManifestCid }),
  fc.record({ type: fc.constant('point' as const), point: arbManifestCid, manifest: fc.uint8Array({ minLength: 1, maxLength: 300 }) }),
  fc.record({ type: fc.constant('want' as const), cids: fc.array(arbBlockCid, { maxLength: 40 }) }),
  arbBitmap.map(b => ({ type: 'want-done' as const, ...b }))
)

const arbBlock = fc.tuple(fc.constantFrom(RAW, DAG_CBOR), fc.uint8Array({ maxLength: 2000 }))
  .map(([code, bytes]) => ({ type: 'block' as const, cid: cidOf(code, bytes), bytes }))

/** Stored blocks: raw (the body is the block) or zstd-flagged (any body: decoding proves nothing). */
const arbStoredBlock = fc.tuple(fc.constantFrom(RAW, DAG_CBOR), fc.uint8Array({ maxLength: 2000 }), fc.boolean(), fc.integer({ min: 0, max: MAX_BLOCK_SIZE }))
  .map(([code, bytes, zstd, rawLength]) => ({ type: 'stored-block' as const, cid: cidOf(code, bytes), flags: zstd ? 1 : 0, rawLength: zstd ? rawLength : bytes.length, body: bytes }))

const arbFrames: fc.Arbitrary<Frame[]> = fc.array(fc.oneof(arbMessage, arbBlock, arbStoredBlock), { minLength: 1, maxLength: 6 })

const encodeFrames = (frames: Frame[]): Uint8Array =>
  concat(frames.flatMap(f => f.type === 'block' ? encodeBlockFrame(f.cid, f.bytes) : f.type === 'stored-block' ? encodeStoredBlockFrame(f.cid, f) : [encodeMessageFrame(f)]))

/** CIDs compare by value; everything else structurally. */
function assertSameFrames (actual: Frame[], expected: Frame[]): void {
  const normal = (v: unknown): unknown => {
    const cid = CID.asCID(v)
    if (cid != null) return { cid: cid.toString() }
    if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString('hex') }
    if (Array.isArray(v)) return v.map(normal)
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normal(x)]))
    return v
  }
  assert.deepEqual(normal(actual), normal(expected))
}

// --- specifications ----------------------------------------------------------------------------

describe('wire: round trips', () => {
  it('every message and block decodes to what was encoded', () => {
    fc.assert(fc.property(arbFrames, frames => {
      assertSameFrames(decodeFrames(encodeFrames(frames)), frames)
    }), { numRuns: 300 })
  })

  it('a run of block frames is byte for byte the body of a CAR file', async () => {
    const blocks = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(70_000).fill(7)].map(bytes => ({ cid: cidOf(RAW, bytes), bytes }))
    const { writer, out } = CarWriter.create([blocks[0].cid])
    const car: Uint8Array[] = []
    const collected = (async () => { for await (const chunk of out) car.push(chunk) })()
    for (const block of blocks) await writer.put(block)
    await writer.close()
    await collected
    const carBytes = concat(car)
    const frames = concat(blocks.flatMap(b => encodeBlockFrame(b.cid, b.bytes)))
    assert.deepEqual(Buffer.from(carBytes.subarray(carBytes.length - frames.length)), Buffer.from(frames))
    const reader = CarBufferReader.fromBytes(carBytes)
    assert.deepEqual(reader.blocks().map(b => b.cid.toString()), blocks.map(b => b.cid.toString()))
  })

  it('bitmaps set exactly the bits asked for', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1000 }).chain(n => fc.tuple(fc.constant(n), fc.uniqueArray(fc.nat(Math.max(0, n - 1)), { maxLength: n }))), ([n, bits]) => {
      const bitmap = bitmapOf(n, bits)
      assert.equal(bitmap.length, Math.ceil(n / 8))
      assert.deepEqual(bitmapIndexes(bitmap), [...bits].sort((a, b) => a - b))
    }))
    assert.deepEqual([...bitmapOf(10, [0, 9])], [0b00000001, 0b00000010])
    assert.throws(() => bitmapOf(8, [8]), RangeError)
  })
})

describe('wire: hostile input', () => {
  it('random bytes decode or fail with MalformedError, never anything else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), bytes => {
      decodesOrMalformed(() => decodeFrames(bytes))
      if (bytes.length > 0) decodesOrMalformed(() => decodeFrameBody(bytes))
    }), { numRuns: 2000 })
  })

  it('random bytes shaped like a frame (valid header, then a map or a CID) fail cleanly', () => {
    const arbBody = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 300 }).map(b => { b[0] = 0xa0 + (b[0] % 28); return b }),
      fc.uint8Array({ minLength: 1, maxLength: 300 }).map(b => { b[0] = 0x01; return b })
    )
    fc.assert(fc.property(arbBody, b => {
      decodesOrMalformed(() => decodeFrameBody(b))
    }), { numRuns: 2000 })
  })

  it('every truncation of a valid stream is a MalformedError naming the truncation', () => {
    fc.assert(fc.property(arbFrames, fc.nat(), (frames, cut) => {
      const bytes = encodeFrames(frames)
      const at = cut % bytes.length
      const result = decodesOrMalformed(() => decodeFrames(bytes.subarray(0, at)))
      // a cut on a frame boundary leaves a shorter valid stream; anywhere else it must fail
      if (result instanceof MalformedError) assert.match(result.message, /truncated/)
    }), { numRuns: 500 })
  })

  it('a cut inside a frame is always detected', () => {
    const bytes = encodeMessageFrame({ type: 'status', machine: 'web01' })
    for (let at = 1; at < bytes.length; at++) {
      assert.throws(() => decodeFrames(bytes.subarray(0, at)), (err: Error) => err instanceof MalformedError && /truncated/.test(err.message))
    }
  })

  it('flipping any byte of a valid stream decodes or fails with MalformedError', () => {
    fc.assert(fc.property(arbFrames, fc.nat(), fc.integer({ min: 1, max: 255 }), (frames, pos, xor) => {
      const bytes = encodeFrames(frames)
      bytes[pos % bytes.length] ^= xor
      decodesOrMalformed(() => decodeFrames(bytes))
    }), { numRuns: 1000 })
  })

  it('random dag-cbor values are refused with MalformedError unless they are messages', () => {
    fc.assert(fc.property(fc.object({ maxDepth: 3 }), fc.constantFrom('have', 'offer', 'pair-request', 'points', undefined), (value, type) => {
      const v: Record<string, unknown> = JSON.parse(JSON.stringify(value))
      if (type != null) v.type = type
      decodesOrMalformed(() => decodeFrameBody(body(v)))
    }), { numRuns: 500 })
  })

  it('absurdly nested CBOR is malformed, not a crash', () => {
    const deep = new Uint8Array(200_000).fill(0x81)
    deep[0] = 0xa1 // a map whose first key is itself a deep list
    assert.throws(() => decodeFrameBody(deep), MalformedError)
  })
})

describe('wire: every field is checked', () => {
  const rejects = (value: unknown, pattern: RegExp) =>
    assert.throws(() => decodeFrameBody(body(value)), (err: Error) => err instanceof MalformedError && pattern.test(err.message),
      `expected MalformedError matching ${pattern}`)
  const cid = cidOf(DAG_CBOR, new Uint8Array([1]))

  it('names an unknown type, an unknown field and a missing field', () => {
    rejects({ type: 'gossip' }, /^message: unknown type "gossip"$/)
    rejects({ type: 'pair-query', extra: 1 }, /^pair-query: unknown field "extra"$/)
    rejects({ type: 'status' }, /^status: missing field "machine"$/)
    rejects({ machine: 'x' }, /missing string field "type"/)
    rejects({ type: 'block', cid, bytes: new Uint8Array(1) }, /unknown type "block"/)
  })

  it('names the field and the problem for wrong types and ranges', () => {
    rejects({ type: 'status', machine: 7 }, /^status\.machine: expected a string, got 7$/)
    rejects({ type: 'status', machine: '' }, /^status\.machine: empty$/)
    rejects({ type: 'status', machine: 'a\nb' }, /control character/)
    rejects({ type: 'status', machine: 'x'.repeat(129) }, /over the limit of 128/)
    rejects({ type: 'ack', point: cid, complete: true, missing: -1 }, /^ack\.missing: -1 is out of range/)
    rejects({ type: 'ack', point: cid, complete: true, missing: 1.5 }, /^ack\.missing: expected an integer/)
    rejects({ type: 'ack', point: cid, complete: true, missing: 2n ** 64n - 1n }, /beyond 2\^53/)
    rejects({ type: 'ack', point: cid, complete: 'yes', missing: 0 }, /^ack\.complete: expected a boolean/)
    rejects({ type: 'pair-status', state: 'maybe' }, /^pair-status\.state: expected one of none, pending, approved, denied/)
    rejects({ type: 'pair-request', name: 'a', addresses: ['not an address'] }, /^pair-request\.addresses\[0\]: not a multiaddr/)
    rejects({ type: 'pair-request', name: 'a', addresses: Array(17).fill('/ip4/1.2.3.4/tcp/1') }, /17 entries, over the limit of 16/)
    rejects({ type: 'offer', point: cid, manifest: new Uint8Array(0), seed: false }, /^offer\.manifest: 0 bytes/)
    rejects({ type: 'offer', point: cid, manifest: new Uint8Array(MAX_BLOCK_SIZE + 1), seed: false }, /^offer\.manifest: 1048577 bytes/)
    rejects({ type: 'list-points' }, /^list-points: missing field "machine"$/)
  })

  it('accepts only CIDv1 sha2-256 raw or dag-cbor, and only dag-cbor for points', () => {
    const sha512 = CID.createV1(RAW, Digest.create(0x13, new Uint8Array(64)))
    const v0 = CID.createV0(Digest.create(0x12, new Uint8Array(32)))
    const identityCid = CID.createV1(RAW, identity.digest(new Uint8Array([1])))
    const json = CID.createV1(0x0200, Digest.create(0x12, new Uint8Array(32)))
    for (const bad of [sha512, v0, identityCid, json]) rejects({ type: 'have', cids: [bad] }, /^have\.cids\[0\]: not a CIDv1 with a sha2-256 hash/)
    rejects({ type: 'have', cids: [cid, 'bafy'] }, /^have\.cids\[1\]: not a CIDv1/)
    rejects({ type: 'get-point', point: cidOf(RAW, new Uint8Array([1])) }, /^get-point\.point: CID .* must have the dag-cbor codec/)
    rejects({ type: 'have', cids: Array(MAX_CIDS_PER_MESSAGE + 1).fill(cid) }, /16385 entries, over the limit of 16384/)
  })

  it('checks nested point summaries', () => {
    const point = { point: cid, machine: 'web01', cluster: null, origin: peerIds[0], seq: 1, kind: 'base', parent: null, createdAt: '2026-11-25T10:00:00.000Z', complete: true }
    assert.equal((decodeFrameBody(body({ type: 'points', points: [point] })) as any).points[0].machine, 'web01')
    rejects({ type: 'points', points: [{ ...point, origin: 'me' }] }, /^points\.points\[0\]\.origin: not a peer id/)
    rejects({ type: 'points', points: [{ ...point, createdAt: 'yesterday' }] }, /^points\.points\[0\]\.createdAt: not an ISO 8601 time/)
    rejects({ type: 'points', points: [{ ...point, seq: 0 }] }, /^points\.points\[0\]\.seq: 0 is out of range/)
    rejects({ type: 'points', points: [{ ...point, secret: 1 }] }, /^points\.points\[0\]: unknown field "secret"/)
    rejects({ type: 'status-reply', machine: 'web01', points: [[]] }, /^status-reply\.points\[0\]: expected a map, got a list/)
  })

  it('checks that a bitmap fits its count exactly', () => {
    rejects({ type: 'have-reply', count: 9, missing: new Uint8Array(1) }, /^have-reply\.missing: 1 bytes for 9 CIDs, expected 2/)
    rejects({ type: 'want-done', count: 3, missing: new Uint8Array([0b1000]) }, /^want-done\.missing: bits set past the 3 CIDs/)
    assert.deepEqual((decodeFrameBody(body({ type: 'have-reply', count: 3, missing: new Uint8Array([0b100]) })) as any).count, 3)
  })

  it('refuses a __proto__ key rather than letting it reach an object', () => {
    const key = new TextEncoder().encode('__proto__')
    const bytes = new Uint8Array([0xa2, 0x60 + key.length, ...key, 0xa0, 0x64, ...new TextEncoder().encode('type'), 0x6a, ...new TextEncoder().encode('pair-query')])
    assert.throws(() => decodeFrameBody(bytes), /unknown field "__proto__"/)
    for (const inherited of ['constructor', 'toString', 'hasOwnProperty']) {
      assert.throws(() => decodeFrameBody(body({ type: 'pair-query', [inherited]: 1 })), new RegExp(`unknown field "${inherited}"`))
    }
  })
})

describe('wire: framing', () => {
  it('refuses empty, oversized and non-minimal frame headers', () => {
    assert.throws(() => decodeFrameHeader(new Uint8Array([0])), /empty frame/)
    assert.throws(() => decodeFrameHeader(new Uint8Array([0x81, 0x80, 0x80, 0x04])), /frame of 8388609 bytes exceeds the 4194304-byte limit/)
    assert.throws(() => decodeFrameHeader(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f])), /varint longer than 4 bytes/)
    assert.throws(() => decodeFrameHeader(new Uint8Array([0x85, 0x00])), /non-minimal varint/)
    assert.equal(decodeFrameHeader(new Uint8Array([0x80])), undefined, 'an unfinished header asks for more bytes')
    assert.deepEqual(decodeFrameHeader(new Uint8Array([0x80, 0x80, 0x80, 0x02])), { length: MAX_FRAME_SIZE, headerLength: 4 })
    assert.deepEqual(decodeFrameHeader(new Uint8Array([9, 0x80, 0x01]), 1), { length: 128, headerLength: 2 })
  })

  it('tells a message from a block by the first byte, and refuses anything else', () => {
    assert.throws(() => decodeFrameBody(new Uint8Array([0x12, 0x20])), /frame starts with byte 0x12: neither a message .* nor a block/)
    assert.throws(() => decodeFrameBody(body(['type', 'pair-query'])), /frame starts with byte 0x82/)
    assert.throws(() => decodeFrameBody(new Uint8Array([0x01, 0x55])), /block frame does not start with a valid CID/)
  })

  it('refuses to encode what it would refuse to decode', () => {
    assert.throws(() => encodeMessageFrame({ type: 'status', machine: '' }), /status\.machine: empty/)
    assert.throws(() => encodeMessageFrame({ type: 'status', machine: 'a', more: 1 } as any), /unknown field "more"/)
    const big = { type: 'points' as const, points: Array.from({ length: 40_000 }, (_, i) => ({ point: cidOf(DAG_CBOR, new Uint8Array([i & 255, i >> 8])), machine: 'm'.repeat(64), cluster: 'c'.repeat(64), origin: peerIds[0], seq: i + 1, kind: 'base' as const, parent: null, createdAt: '2026-11-25T10:00:00.000Z', complete: true })) }
    assert.throws(() => encodeMessageFrame(big), /points is \d+ bytes, over the 4194304-byte frame limit/)
    const huge = new Uint8Array(MAX_BLOCK_SIZE + 1)
    assert.throws(() => encodeBlockFrame(cidOf(RAW, huge), huge), /over the 1048577-byte limit|over the 1048576-byte limit/)
  })

  it('stored-block frames: 0x02, flags, the block length, the CID, the body as stored; anything out of shape is malformed', () => {
    const bytes = new TextEncoder().encode('a block stored as it is')
    const cid = cidOf(RAW, bytes)
    const frame = concat(encodeStoredBlockFrame(cid, { flags: 0, body: bytes, rawLength: bytes.length }))
    assert.equal(frame.length, storedBlockFrameLength(cid, { flags: 0, body: bytes, rawLength: bytes.length }))
    assert.deepEqual([...frame.subarray(1, 4)], [0x02, 0x00, bytes.length], 'marker, flags, length')
    const decoded = decodeFrames(frame)[0]
    assert.ok(decoded.type === 'stored-block' && decoded.cid.equals(cid) && Buffer.from(decoded.body).equals(bytes))
    const bodyOf = (flags: number, length: number[], rest: Uint8Array): Uint8Array => concat([new Uint8Array([0x02, flags, ...length]), cid.bytes, rest])
    assert.throws(() => decodeFrameBody(bodyOf(0x04, [bytes.length], bytes)), /unknown flags 0x4/)
    assert.throws(() => decodeFrameBody(bodyOf(0x01, [0x81, 0x80, 0x40], bytes)), /over the 1048576-byte limit/)
    assert.throws(() => decodeFrameBody(bodyOf(0x01, [0x81, 0x80, 0x80, 0x01], bytes)), /varint longer than 3 bytes/)
    assert.throws(() => decodeFrameBody(bodyOf(0x00, [bytes.length + 1], bytes)), /raw but its body is 23 bytes where 24 are stated/)
    assert.throws(() => decodeFrameBody(bodyOf(0x01, [0x85, 0x00], bytes)), /non-minimal varint/)
    assert.throws(() => decodeFrameBody(new Uint8Array([0x02, 0x01])), /too short/)
    assert.throws(() => decodeFrameBody(new Uint8Array([0x02, 0x01, 0x05, 0x12])), /does not carry a valid CID/)
    assert.throws(() => encodeStoredBlockFrame(cid, { flags: 1, body: bytes, rawLength: MAX_BLOCK_SIZE + 1 }), /over the 1048576-byte limit/)
  })

  it('verifies a block against its CID, naming the CID when it does not match', () => {
    const bytes = new Uint8Array([1, 2, 3])
    const cid = cidOf(RAW, bytes)
    verifyBlock({ cid, bytes })
    assert.throws(() => verifyBlock({ cid, bytes: new Uint8Array([1, 2, 4]) }),
      (err: Error) => err instanceof CorruptBlockError && err.message.includes(cid.toString()))
  })
})
