import * as dagCbor from '@ipld/dag-cbor'
import type { CID } from 'multiformats/cid'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { BadSignatureError, MalformedError } from '../errors.ts'
import { cborBlock, cborCid, decodeCbor, isDrcoreCid, DAG_CBOR_CODE } from '../points/blocks.ts'
import type { Block } from '../points/blocks.ts'
import { isMachineName, parsePointId } from '../points/manifest.ts'
import { isRecord, isSize } from '../points/nodes.ts'
import { MAX_SEED_POINTS, PART_FORMAT, SEED_FORMAT, SEED_FORMAT_VERSION } from './constants.ts'
import type { PartDescriptor, SeedDescriptor, SeedMachine, VerifiedSeed } from './api.ts'

/**
 * Signs a seed descriptor with the source Core's key and encodes the block
 * `{descriptor, signature}`; its CID is the seed id.
 */
export async function signSeed (descriptor: SeedDescriptor, privateKey: PrivateKey): Promise<VerifiedSeed> {
  validateSeedDescriptor(descriptor, 'seed descriptor')
  if (peerIdFromPrivateKey(privateKey).toString() !== descriptor.source) {
    throw new BadSignatureError(`cannot sign a seed of source ${descriptor.source} with the key of ${peerIdFromPrivateKey(privateKey).toString()}`)
  }
  const signature = await privateKey.sign(dagCbor.encode(descriptor))
  const block = cborBlock({ descriptor, signature })
  return { id: block.cid, descriptor, signature, bytes: block.bytes }
}

/**
 * Decodes a seed descriptor block read from a part: the bytes must hash to `id`, the shape must
 * be exact (`MalformedError`) and the signature must verify against the source's peer id
 * (`BadSignatureError`).
 */
export async function decodeSeed (bytes: Uint8Array, id: CID): Promise<VerifiedSeed> {
  const what = `seed descriptor ${id}`
  if (!cborCid(bytes).equals(id)) throw new MalformedError(`${what} does not match its hash`)
  const wrapper = decodeCbor(bytes, what)
  if (!isRecord(wrapper) || !exactKeys(wrapper, ['descriptor', 'signature'])) {
    throw new MalformedError(`${what} is malformed: expected {descriptor, signature}`)
  }
  const { descriptor, signature } = wrapper
  if (!(signature instanceof Uint8Array) || signature.length !== 64) throw new MalformedError(`${what} is malformed: signature is not 64 bytes`)
  validateSeedDescriptor(descriptor, what)
  const publicKey = peerIdFromString(descriptor.source).publicKey
  if (publicKey == null || !await publicKey.verify(dagCbor.encode(descriptor), signature)) {
    throw new BadSignatureError(`${what} is not signed by its source Core ${descriptor.source}`)
  }
  return { id, descriptor, signature, bytes }
}

export function partBlock (descriptor: PartDescriptor): Block {
  return cborBlock(descriptor)
}

/** Decodes the root block of a part; `MalformedError` when it is not a part descriptor. */
export function decodePart (bytes: Uint8Array, id: CID): PartDescriptor {
  const what = `part descriptor ${id}`
  if (!cborCid(bytes).equals(id)) throw new MalformedError(`${what} does not match its hash`)
  const value = decodeCbor(bytes, what)
  const fail = (why: string): never => { throw new MalformedError(`${what} is malformed: ${why}`) }
  if (!isRecord(value) || value.format !== PART_FORMAT) return fail(`not a ${PART_FORMAT} map`)
  if (!exactKeys(value, ['format', 'version', 'seed', 'part', 'blocks', 'bytes'])) fail('expected fields format, version, seed, part, blocks, bytes')
  if (value.version !== SEED_FORMAT_VERSION) fail(`unsupported version ${String(value.version)}`)
  if (!isDrcoreCid(value.seed) || value.seed.code !== DAG_CBOR_CODE) fail('seed is not a dag-cbor CID')
  if (!isSize(value.part) || value.part < 1) fail('part is not a positive integer')
  if (!isSize(value.blocks) || !isSize(value.bytes)) fail('blocks and bytes must be non-negative integers')
  return value as unknown as PartDescriptor
}

/** True when a dag-cbor block looks like a part descriptor (to tell a seed part from another CAR). */
export function looksLikePart (bytes: Uint8Array): boolean {
  try {
    const value = dagCbor.decode(bytes)
    return isRecord(value) && value.format === PART_FORMAT
  } catch {
    return false
  }
}

const SEED_KEYS = ['format', 'version', 'source', 'sourceName', 'target', 'createdAt', 'parts', 'blocks', 'bytes', 'machines', 'points']
const MACHINE_KEYS = ['machine', 'origin', 'cluster', 'points', 'from', 'to']

export function validateSeedDescriptor (value: unknown, what: string): asserts value is SeedDescriptor {
  const fail = (why: string): never => { throw new MalformedError(`${what} is malformed: ${why}`) }
  if (!isRecord(value) || value.format !== SEED_FORMAT) return fail(`not a ${SEED_FORMAT} map`)
  if (!exactKeys(value, SEED_KEYS)) fail(`expected fields ${SEED_KEYS.join(', ')}`)
  if (value.version !== SEED_FORMAT_VERSION) fail(`unsupported version ${String(value.version)}`)
  if (!isEd25519PeerId(value.source)) fail('source is not an Ed25519 peer id')
  if (typeof value.sourceName !== 'string' || value.sourceName.length > 256) fail('sourceName is not a short string')
  if (value.target !== null && !isEd25519PeerId(value.target)) fail('target is neither null nor an Ed25519 peer id')
  if (!isDate(value.createdAt)) fail('createdAt is not a date')
  if (!isSize(value.parts) || value.parts < 1) fail('parts is not a positive integer')
  if (!isSize(value.blocks) || !isSize(value.bytes)) fail('blocks and bytes must be non-negative integers')
  if (!Array.isArray(value.points) || value.points.length === 0 || value.points.length > MAX_SEED_POINTS) {
    fail(`points is not a list of 1 to ${MAX_SEED_POINTS} point ids`)
  }
  const points = value.points as unknown[]
  for (const point of points) {
    if (typeof point !== 'string') fail('points holds a value that is not a point id')
    try {
      parsePointId(point as string)
    } catch {
      fail(`points holds ${JSON.stringify(point)}, which is not a point id`)
    }
  }
  if (new Set(points).size !== points.length) fail('points lists a point twice')
  if (!Array.isArray(value.machines) || value.machines.length === 0) fail('machines is not a non-empty list')
  let counted = 0
  for (const [i, machine] of (value.machines as unknown[]).entries()) {
    validateMachine(machine, (why) => fail(`machine ${i}: ${why}`))
    counted += machine.points
  }
  if (counted !== points.length) fail(`machines count ${counted} points, the list holds ${points.length}`)
}

function validateMachine (value: unknown, fail: (why: string) => never): asserts value is SeedMachine {
  if (!isRecord(value) || !exactKeys(value, MACHINE_KEYS)) return fail(`expected fields ${MACHINE_KEYS.join(', ')}`)
  if (!isMachineName(value.machine)) fail(`invalid machine name ${JSON.stringify(value.machine)}`)
  if (!isEd25519PeerId(value.origin)) fail('origin is not an Ed25519 peer id')
  if (value.cluster !== null && !isMachineName(value.cluster)) fail(`invalid cluster name ${JSON.stringify(value.cluster)}`)
  if (!isSize(value.points) || value.points < 1) fail('points is not a positive integer')
  if (!isDate(value.from) || !isDate(value.to)) fail('from and to must be dates')
}

function isEd25519PeerId (value: unknown): value is string {
  if (typeof value !== 'string') return false
  try {
    return peerIdFromString(value).type === 'Ed25519'
  } catch {
    return false
  }
}

function isDate (value: unknown): value is string {
  return typeof value === 'string' && !Number.isNaN(Date.parse(value))
}

function exactKeys (value: Record<string, unknown>, keys: string[]): boolean {
  const actual = Object.keys(value)
  return actual.length === keys.length && keys.every(k => Object.hasOwn(value, k))
}
