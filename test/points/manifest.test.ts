import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { BadSignatureError, MalformedError, MissingBlockError } from '../../src/errors.ts'
import { cborBlock, rawCid } from '../../src/points/blocks.ts'
import { decodeManifest, loadManifest, signManifest } from '../../src/points/manifest.ts'
import type { Manifest } from '../../src/points/api.ts'
import { MANIFEST_VERSION } from '../../src/points/constants.ts'
import { MemoryBlockStore } from '../helpers/memory-store.ts'

async function identity () {
  const privateKey = await generateKeyPair('Ed25519')
  return { privateKey, origin: peerIdFromPrivateKey(privateKey).toString() }
}

function manifestOf (origin: string, overrides: Partial<Manifest> = {}): Manifest {
  return {
    version: 1,
    origin,
    machine: 'web01',
    cluster: null,
    seq: 1,
    kind: 'base',
    parent: null,
    createdAt: '2026-11-25T12:00:00.000Z',
    volumes: {
      root: { root: cborBlock({ type: 'dir', entries: [] }).cid, type: 'dir', files: 0, bytes: 0, mode: 0o755, mtime: [1700000000, 5] },
      disk: { root: rawCid(new Uint8Array([1, 2, 3])), type: 'file', files: 1, bytes: 3, mode: 0o600, mtime: [1700000000, 0], ino: 42 }
    },
    ...overrides
  }
}

/** Re-encodes a signed wrapper after `edit` changed its decoded form (a forger's attempt). */
function tamper (bytes: Uint8Array, edit: (wrapper: any) => void): Uint8Array {
  const wrapper = dagCbor.decode(bytes) as any
  edit(wrapper)
  return dagCbor.encode(wrapper)
}

test('a signed manifest decodes to the same manifest, and its id is the CID of the wrapper block', async () => {
  const { privateKey, origin } = await identity()
  const signed = await signManifest(manifestOf(origin), privateKey)
  assert.deepEqual(Object.keys(dagCbor.decode(signed.bytes) as object).sort(), ['manifest', 'signature'])
  const decoded = await decodeManifest(signed.bytes, signed.id)
  assert.ok(decoded.id.equals(cborBlock(dagCbor.decode(signed.bytes)).cid))
  assert.equal(decoded.manifest.machine, 'web01')
  assert.equal(decoded.manifest.volumes.disk.ino, 42)
  assert.ok(decoded.manifest.volumes.root.root.equals(manifestOf(origin).volumes.root.root))
})

test('flipping any signed field makes the signature fail', async () => {
  const { privateKey, origin } = await identity()
  const signed = await signManifest(manifestOf(origin), privateKey)
  const edits: Array<[string, (w: any) => void]> = [
    ['seq', w => { w.manifest.seq = 2 }],
    ['machine', w => { w.manifest.machine = 'web02' }],
    ['createdAt', w => { w.manifest.createdAt = '2026-11-25T12:00:01.000Z' }],
    ['volume bytes', w => { w.manifest.volumes.disk.bytes = 4 }],
    ['volume root', w => { w.manifest.volumes.disk.root = rawCid(new Uint8Array([9])) }],
    ['signature', w => { w.signature[0] ^= 1 }]
  ]
  for (const [what, edit] of edits) {
    await assert.rejects(decodeManifest(tamper(signed.bytes, edit)), BadSignatureError, `tampered ${what} must not verify`)
  }
})

test('a manifest re-signed by another key but claiming the original origin is rejected', async () => {
  const a = await identity()
  const b = await identity()
  const signed = await signManifest(manifestOf(a.origin), a.privateKey)
  const forged = tamper(signed.bytes, w => { w.signature = b.privateKey.sign(dagCbor.encode(w.manifest)) })
  await assert.rejects(decodeManifest(forged), BadSignatureError)
  await assert.rejects(signManifest(manifestOf(a.origin), b.privateKey), BadSignatureError)
})

test('malformed manifest bytes and shapes are MalformedError, naming the problem', async () => {
  const { privateKey, origin } = await identity()
  const signed = await signManifest(manifestOf(origin), privateKey)
  await assert.rejects(decodeManifest(new Uint8Array([0xff, 0x00, 0x13])), MalformedError)
  await assert.rejects(decodeManifest(dagCbor.encode({ manifest: 1 })), /expected \{manifest, signature\}/)
  await assert.rejects(decodeManifest(tamper(signed.bytes, w => { w.manifest.kind = 'full' })), /unknown kind "full"/)
  await assert.rejects(decodeManifest(tamper(signed.bytes, w => { w.manifest.origin = 'not-a-peer' })), /origin not-a-peer is not a peer id/)
  await assert.rejects(decodeManifest(tamper(signed.bytes, w => { w.manifest.volumes['../etc'] = w.manifest.volumes.disk })), /invalid volume name "..\/etc"/)
  await assert.rejects(decodeManifest(tamper(signed.bytes, w => { w.manifest.extra = true })), MalformedError)
  await assert.rejects(decodeManifest(tamper(signed.bytes, w => { w.manifest.kind = 'incremental' })), /needs a parent point id/)
  await assert.rejects(decodeManifest(tamper(signed.bytes, w => { w.signature = new Uint8Array(3) })), /signature is not 64 bytes/)
  await assert.rejects(decodeManifest(signed.bytes, rawCid(signed.bytes)), /does not hash to its id/)
})

test('version 1 manifests are still read; version 2 adds the skipped count (required there) and root metadata; other versions are refused', async () => {
  const { privateKey, origin } = await identity()
  const v1 = await signManifest(manifestOf(origin), privateKey)
  assert.equal((await decodeManifest(v1.bytes, v1.id)).manifest.version, 1)
  const v2 = manifestOf(origin, { version: 2, skipped: 3 })
  v2.volumes.root = { ...v2.volumes.root, ctime: [1_700_000_000, 7], uid: 0, gid: 0, xattrs: [['user.a', new Uint8Array([1])]] }
  const signed = await signManifest(v2, privateKey)
  const decoded = await decodeManifest(signed.bytes, signed.id)
  assert.equal(decoded.manifest.skipped, 3)
  assert.deepEqual(decoded.manifest.volumes.root.ctime, [1_700_000_000, 7])
  assert.equal(MANIFEST_VERSION, 2, 'this drcore writes version 2')
  await assert.rejects(signManifest(manifestOf(origin, { version: 2 }), privateKey), /expected fields .*skipped/)
  await assert.rejects(signManifest(manifestOf(origin, { skipped: 0 }), privateKey), /expected fields/, 'version 1 has no skipped count')
  const v1WithV2Field = manifestOf(origin)
  v1WithV2Field.volumes.root = { ...v1WithV2Field.volumes.root, ctime: [1, 1] }
  await assert.rejects(signManifest(v1WithV2Field, privateKey), /unexpected field "ctime"/)
  await assert.rejects(signManifest(manifestOf(origin, { version: 2, skipped: -1 }), privateKey), /skipped is not a non-negative integer/)
  await assert.rejects(signManifest(manifestOf(origin, { version: 3 as any, skipped: 0 }), privateKey), /unsupported version 3 \(this drcore reads versions 1 and 2\)/)
})

test('loadManifest reads through the store, which names a missing manifest', async () => {
  const { privateKey, origin } = await identity()
  const signed = await signManifest(manifestOf(origin), privateKey)
  const store = new MemoryBlockStore()
  await assert.rejects(loadManifest(store, signed.id.toString()), MissingBlockError)
  const writer = store.writer()
  await writer.put(signed.id, signed.bytes)
  await writer.commit()
  assert.equal((await loadManifest(store, signed.id.toString())).manifest.seq, 1)
})
