/**
 * Strict validation of decoded messages: every field of every message type is checked for
 * presence, type and range, and unknown fields are refused (a changed message is a new protocol
 * version). Errors are `MalformedError`s naming the field, e.g. `have.cids[3]: not a CID`.
 */
import { CID } from 'multiformats/cid'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { MalformedError } from '../errors.ts'
import { DAG_CBOR_CODE, MAX_ADDRESSES, MAX_BLOCK_SIZE, MAX_CIDS_PER_MESSAGE, MAX_NAME_LENGTH, RAW_CODE, SHA2_256_CODE } from './constants.ts'
import { ERROR_CODES, PAIR_STATES } from './messages.ts'
import type { Message, MessageOf, MessageType, PointSummary } from './messages.ts'

/** No sentence on the wire needs more. */
const MAX_TEXT_LENGTH = 1024
/** A multiaddr string longer than this is not one a Core listens on. */
const MAX_ADDRESS_LENGTH = 256

/** Checks `value` and returns it typed, or throws a `MalformedError` that names `path`. */
type Field<T> = (value: unknown, path: string) => T

type Shape<M> = { [K in Exclude<keyof M, 'type'>]-?: Field<M[K]> }

function fail (path: string, problem: string): never {
  throw new MalformedError(`${path}: ${problem}`)
}

/**
 * The CIDs drcore accepts on the wire: version 1, sha2-256 (32-byte digest), codec raw or
 * dag-cbor. Anything else is refused rather than followed.
 */
export function isBlockCid (value: unknown): value is CID {
  const cid = CID.asCID(value)
  return cid != null && cid.version === 1 && cid.multihash.code === SHA2_256_CODE &&
    cid.multihash.size === 32 && cid.multihash.digest.length === 32 &&
    (cid.code === RAW_CODE || cid.code === DAG_CBOR_CODE)
}

const cid = (codec?: number): Field<CID> => (value, path) => {
  if (!isBlockCid(value)) fail(path, 'not a CIDv1 with a sha2-256 hash and the raw or dag-cbor codec')
  if (codec != null && value.code !== codec) fail(path, `CID ${value} must have the dag-cbor codec`)
  return value
}
const blockCid = cid()
const manifestCid = cid(DAG_CBOR_CODE)

const text = (max = MAX_TEXT_LENGTH): Field<string> => (value, path) => {
  if (typeof value !== 'string') fail(path, `expected a string, got ${describe(value)}`)
  if (value.length > max) fail(path, `string of ${value.length} characters, over the limit of ${max}`)
  return value
}

/** A name, tenant or machine: non-empty, bounded, no control characters. */
const name: Field<string> = (value, path) => {
  const s = text(MAX_NAME_LENGTH)(value, path)
  if (s.length === 0) fail(path, 'empty')
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(s)) fail(path, 'contains a control character')
  return s
}

const address: Field<string> = (value, path) => {
  const s = text(MAX_ADDRESS_LENGTH)(value, path)
  try {
    multiaddr(s)
  } catch {
    fail(path, `not a multiaddr: ${JSON.stringify(s)}`)
  }
  return s
}

const peerId: Field<string> = (value, path) => {
  const s = text(128)(value, path)
  try {
    peerIdFromString(s)
  } catch {
    fail(path, `not a peer id: ${JSON.stringify(s)}`)
  }
  return s
}

const isoTime: Field<string> = (value, path) => {
  const s = text(64)(value, path)
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) || Number.isNaN(Date.parse(s))) {
    fail(path, `not an ISO 8601 time: ${JSON.stringify(s)}`)
  }
  return s
}

const bool: Field<boolean> = (value, path) => {
  if (typeof value !== 'boolean') fail(path, `expected a boolean, got ${describe(value)}`)
  return value
}

const int = (min: number, max = Number.MAX_SAFE_INTEGER): Field<number> => (value, path) => {
  if (typeof value !== 'number' || !Number.isInteger(value)) fail(path, `expected an integer, got ${describe(value)}`)
  if (value < min || value > max) fail(path, `${value} is out of range [${min}, ${max}]`)
  return value
}

const bytes = (min: number, max: number): Field<Uint8Array> => (value, path) => {
  if (!(value instanceof Uint8Array)) fail(path, `expected bytes, got ${describe(value)}`)
  if (value.length < min || value.length > max) fail(path, `${value.length} bytes, expected ${min} to ${max}`)
  return value
}

const oneOf = <T extends string>(values: readonly T[]): Field<T> => (value, path) => {
  if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
    fail(path, `expected one of ${values.join(', ')}, got ${describe(value)}`)
  }
  return value as T
}

const nullable = <T>(field: Field<T>): Field<T | null> => (value, path) => value === null ? null : field(value, path)

const list = <T>(item: Field<T>, max: number): Field<T[]> => (value, path) => {
  if (!Array.isArray(value)) fail(path, `expected a list, got ${describe(value)}`)
  if (value.length > max) fail(path, `${value.length} entries, over the limit of ${max}`)
  return value.map((v, i) => item(v, `${path}[${i}]`))
}

/** A map with exactly the fields of `shape` (plus `type` when `typed`). */
function record<M> (shape: Shape<M>, value: unknown, path: string, typed: boolean): M {
  if (!isPlainObject(value)) fail(path, `expected a map, got ${describe(value)}`)
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(shape, key) && !(typed && key === 'type')) fail(path, `unknown field ${JSON.stringify(key)}`)
  }
  const out: Record<string, unknown> = typed ? { type: value.type } : {}
  for (const [key, field] of Object.entries(shape) as Array<[string, Field<unknown>]>) {
    if (!Object.hasOwn(value, key)) fail(path, `missing field ${JSON.stringify(key)}`)
    out[key] = field(value[key], `${path}.${key}`)
  }
  return out as M
}

const pointSummaryShape: Shape<PointSummary> = {
  point: manifestCid,
  machine: name,
  cluster: nullable(name),
  origin: peerId,
  seq: int(1),
  kind: oneOf(['base', 'incremental']),
  parent: nullable(manifestCid),
  createdAt: isoTime,
  complete: bool
}
const pointSummary: Field<PointSummary> = (value, path) => record(pointSummaryShape, value, path, false)
/** Bounded only by the frame size: a machine keeps at most some thousands of points. */
const pointList = list(pointSummary, Number.MAX_SAFE_INTEGER)

const bitmap: Field<Uint8Array> = bytes(0, Math.ceil(MAX_CIDS_PER_MESSAGE / 8))
const manifestBytes = bytes(1, MAX_BLOCK_SIZE)
const cidList = list(blockCid, MAX_CIDS_PER_MESSAGE)

const schemas: { [T in MessageType]: Shape<MessageOf<T>> } = {
  error: { code: oneOf(ERROR_CODES), message: text() },

  'pair-request': { name, addresses: list(address, MAX_ADDRESSES) },
  'pair-query': {},
  'pair-status': { state: oneOf(PAIR_STATES) },
  'pair-decision': { decision: oneOf(['approved', 'denied']) },
  'pair-ack': {},

  offer: { point: manifestCid, manifest: manifestBytes, seed: bool },
  'offer-reply': { known: bool, complete: bool, accepted: bool, reason: nullable(text()) },
  have: { cids: cidList },
  'have-reply': { count: int(0, MAX_CIDS_PER_MESSAGE), missing: bitmap },
  done: {},
  ack: { point: manifestCid, complete: bool, missing: int(0) },
  status: { machine: name },
  'status-reply': { machine: name, points: pointList },
  'remove-machine': { machine: name },
  'remove-reply': { machine: name, removed: int(0) },

  'list-points': { machine: nullable(name) },
  points: { points: pointList },
  'get-point': { point: manifestCid },
  point: { point: manifestCid, manifest: manifestBytes },
  want: { cids: cidList },
  'want-done': { count: int(0, MAX_CIDS_PER_MESSAGE), missing: bitmap }
}

/**
 * Checks a decoded value against the message catalogue and returns it as a `Message` (a fresh
 * object holding exactly the known fields). Throws `MalformedError` naming the first bad field.
 */
export function validateMessage (value: unknown): Message {
  if (!isPlainObject(value)) fail('message', `expected a map, got ${describe(value)}`)
  const type = value.type
  if (typeof type !== 'string') fail('message', 'missing string field "type"')
  if (!Object.hasOwn(schemas, type)) fail('message', `unknown type ${JSON.stringify(type.slice(0, 64))}`)
  const message = record(schemas[type as MessageType] as Shape<Message>, value, type, true)
  checkBitmap(message)
  return message
}

/** A bitmap must be exactly ceil(count / 8) bytes with no bit set past `count`. */
function checkBitmap (message: Message): void {
  if (message.type !== 'have-reply' && message.type !== 'want-done') return
  const { count, missing } = message
  if (missing.length !== Math.ceil(count / 8)) {
    fail(`${message.type}.missing`, `${missing.length} bytes for ${count} CIDs, expected ${Math.ceil(count / 8)}`)
  }
  const spare = missing.length * 8 - count
  if (spare > 0 && (missing[missing.length - 1] >> (8 - spare)) !== 0) {
    fail(`${message.type}.missing`, `bits set past the ${count} CIDs asked about`)
  }
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function describe (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  if (value instanceof Uint8Array) return 'bytes'
  if (CID.asCID(value) != null) return 'a CID'
  if (typeof value === 'bigint') return 'an integer beyond 2^53'
  if (typeof value === 'string') return JSON.stringify(value.length > 32 ? `${value.slice(0, 32)}…` : value)
  if (typeof value === 'object') return 'a map'
  return String(value)
}
