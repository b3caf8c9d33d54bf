import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { BadSignatureError, MalformedError } from '../errors.ts'
import { cborBlock, cborCid, decodeCbor, isDrcoreCid, DAG_CBOR_CODE } from './blocks.ts'
import { READABLE_MANIFEST_VERSIONS } from './constants.ts'
import { isMtime, isRecord, isSafeName, isSize, validateXattrs } from './nodes.ts'
import type { Manifest, SignedPoint, VolumeRef } from './api.ts'
import type { BlockStore } from '../store/api.ts'

/**
 * Signs a manifest with the origin Core's key and encodes the wrapper block
 * `{manifest, signature}`; the point id is that block's CID. The key must be the origin's.
 */
export async function signManifest (manifest: Manifest, privateKey: PrivateKey): Promise<SignedPoint> {
  validateManifest(manifest, 'manifest')
  if (peerIdFromPrivateKey(privateKey).toString() !== manifest.origin) {
    throw new BadSignatureError(`cannot sign a manifest of origin ${manifest.origin} with the key of ${peerIdFromPrivateKey(privateKey).toString()}`)
  }
  const signature = await privateKey.sign(dagCbor.encode(manifest))
  const block = cborBlock({ manifest, signature })
  return { id: block.cid, manifest, signature, bytes: block.bytes }
}

/**
 * Decodes a manifest block that came from anywhere (network, seed drive, local store): checks its
 * shape strictly (`MalformedError`) and its signature against the public key inside the origin
 * peer id (`BadSignatureError`). With `id`, the bytes must also hash to it.
 */
export async function decodeManifest (bytes: Uint8Array, id?: CID): Promise<SignedPoint> {
  const what = id == null ? 'manifest' : `manifest ${id}`
  const wrapper = decodeCbor(bytes, what)
  const actual = cborCid(bytes)
  if (id != null && !id.equals(actual)) {
    throw new MalformedError(`${what} does not hash to its id (it is ${actual})`)
  }
  if (!isRecord(wrapper) || !sameKeys(wrapper, ['manifest', 'signature'])) {
    throw new MalformedError(`${what} is malformed: expected {manifest, signature}`)
  }
  const { manifest, signature } = wrapper
  if (!(signature instanceof Uint8Array) || signature.length !== 64) {
    throw new MalformedError(`${what} is malformed: signature is not 64 bytes`)
  }
  validateManifest(manifest, what)
  const publicKey = peerIdFromString(manifest.origin).publicKey
  if (publicKey == null || !await publicKey.verify(dagCbor.encode(manifest), signature)) {
    throw new BadSignatureError(`${what} of machine ${manifest.machine} is not signed by its origin ${manifest.origin}`)
  }
  return { id: actual, manifest, signature, bytes }
}

/** Reads (and verifies) a point's manifest from a store. */
export async function loadManifest (store: BlockStore, id: CID | string): Promise<SignedPoint> {
  const cid = typeof id === 'string' ? parsePointId(id) : id
  return await decodeManifest(await store.get(cid), cid)
}

/** Parses a point id given by an operator or a peer. */
export function parsePointId (id: string): CID {
  let cid: CID
  try {
    cid = CID.parse(id)
  } catch {
    throw new MalformedError(`not a point id: ${id}`)
  }
  if (!isDrcoreCid(cid) || cid.code !== DAG_CBOR_CODE) throw new MalformedError(`not a point id (expected a dag-cbor sha2-256 CIDv1): ${id}`)
  return cid
}

/** A machine name: what `tenant/machine` lookups and LevelDB keys can carry unambiguously. */
export function isMachineName (name: unknown): name is string {
  return typeof name === 'string' && /^[\p{L}\p{N}._-][\p{L}\p{N}._@+-]{0,127}$/u.test(name)
}

const MANIFEST_KEYS_V1 = ['version', 'origin', 'machine', 'cluster', 'seq', 'kind', 'parent', 'createdAt', 'volumes']
const MANIFEST_KEYS_V2 = [...MANIFEST_KEYS_V1, 'skipped']
const VOLUME_KEYS_V1 = ['root', 'type', 'files', 'bytes', 'mode', 'mtime', 'ino']
const VOLUME_KEYS_V2 = [...VOLUME_KEYS_V1, 'ctime', 'uid', 'gid', 'xattrs']

/** Strict shape check; `what` names the manifest in the error. */
export function validateManifest (value: unknown, what: string): asserts value is Manifest {
  const fail = (why: string): never => { throw new MalformedError(`${what} is malformed: ${why}`) }
  if (!isRecord(value)) return fail('not a map')
  if (typeof value.version !== 'number' || !READABLE_MANIFEST_VERSIONS.includes(value.version)) {
    fail(`unsupported version ${String(value.version)} (this drcore reads versions ${READABLE_MANIFEST_VERSIONS.join(' and ')})`)
  }
  const v1 = value.version === 1
  const keys = v1 ? MANIFEST_KEYS_V1 : MANIFEST_KEYS_V2
  if (!sameKeys(value, keys)) fail(`expected fields ${keys.join(', ')}`)
  if (!v1 && !isSize(value.skipped)) fail('skipped is not a non-negative integer')
  if (typeof value.origin !== 'string') fail('origin is not a string')
  try {
    const peer = peerIdFromString(value.origin as string)
    if (peer.type !== 'Ed25519') fail(`origin ${value.origin as string} is not an Ed25519 peer id`)
  } catch (err) {
    if (err instanceof MalformedError) throw err
    fail(`origin ${String(value.origin)} is not a peer id`)
  }
  if (!isMachineName(value.machine)) fail(`invalid machine name ${JSON.stringify(value.machine)}`)
  if (value.cluster !== null && !isMachineName(value.cluster)) fail(`invalid cluster name ${JSON.stringify(value.cluster)}`)
  if (!isSize(value.seq) || value.seq < 1) fail('seq is not a positive integer')
  if (value.kind === 'base') {
    if (value.parent !== null) fail('a base point has no parent')
  } else if (value.kind === 'incremental') {
    if (!isDrcoreCid(value.parent) || value.parent.code !== DAG_CBOR_CODE) fail('an incremental point needs a parent point id')
  } else {
    fail(`unknown kind ${JSON.stringify(value.kind)}`)
  }
  if (typeof value.createdAt !== 'string' || Number.isNaN(Date.parse(value.createdAt))) fail('createdAt is not a date')
  if (!isRecord(value.volumes) || Object.keys(value.volumes).length === 0) fail('volumes is not a non-empty map')
  for (const [name, volume] of Object.entries(value.volumes as Record<string, unknown>)) {
    if (!isSafeName(name)) fail(`invalid volume name ${JSON.stringify(name)}`)
    validateVolume(volume, v1 ? VOLUME_KEYS_V1 : VOLUME_KEYS_V2, (why) => fail(`volume ${name}: ${why}`))
  }
}

function validateVolume (value: unknown, fields: string[], fail: (why: string) => never): asserts value is VolumeRef {
  if (!isRecord(value)) return fail('not a map')
  const keys = Object.keys(value)
  const allowed = new Set(fields)
  for (const key of keys) if (!allowed.has(key)) fail(`unexpected field ${JSON.stringify(key)}`)
  if (value.type !== 'dir' && value.type !== 'file') fail(`unknown type ${JSON.stringify(value.type)}`)
  if (!isDrcoreCid(value.root) || (value.type === 'dir' && value.root.code !== DAG_CBOR_CODE)) fail('root is not a node CID')
  if (!isSize(value.files) || !isSize(value.bytes)) fail('files and bytes must be non-negative integers')
  if (!isSize(value.mode) || value.mode > 0o7777) fail('mode is not permission bits')
  if (!isMtime(value.mtime)) fail('mtime is not [seconds, nanoseconds]')
  for (const key of ['ino', 'uid', 'gid']) {
    if (value[key] !== undefined && !isSize(value[key])) fail(`${key} is not a non-negative integer`)
  }
  if (value.ctime !== undefined && !isMtime(value.ctime)) fail('ctime is not [seconds, nanoseconds]')
  if (value.xattrs !== undefined) validateXattrs(value.xattrs, fail)
}

function sameKeys (value: Record<string, unknown>, keys: string[]): boolean {
  const actual = Object.keys(value)
  return actual.length === keys.length && keys.every(k => Object.hasOwn(value, k))
}
