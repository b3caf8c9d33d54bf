/**
 * The catalogue of drcore messages: one type per message (protocol ids and limits are in
 * constants.ts). docs/protocol.md describes the exchanges; schema.ts validates every field.
 */
import type { CID } from 'multiformats/cid'
import { FETCH_PROTOCOL, FETCH_PROTOCOL_V2, PAIR_PROTOCOL, REPAIR_PROTOCOL, REPAIR_PROTOCOL_V2, REPLICATE_PROTOCOL, REPLICATE_PROTOCOL_V2 } from './constants.ts'

// ---------------------------------------------------------------------------------------------
// Shared

/** Sent instead of the expected reply; the sender then closes the stream. */
export interface ErrorMessage {
  type: 'error'
  code: ErrorCode
  /** one human sentence, shown to the operator of the other Core */
  message: string
}

export const ERROR_CODES = [
  /** the peer is not approved for this protocol, or is denied */
  'not-authorized',
  /** too many pairing requests from this peer or address; try later */
  'rate-limited',
  /** a frame did not decode, or a message came out of order */
  'malformed',
  /** a block did not hash to its CID */
  'corrupt-block',
  /** a manifest's signature does not verify */
  'bad-signature',
  /** the point, machine or block is not in the asking peer's tenant */
  'not-found',
  /** understood and allowed, but declined (the reason is in `message`) */
  'refused',
  /** the receiver failed; details stay in its own log */
  'internal'
] as const
export type ErrorCode = typeof ERROR_CODES[number]

// ---------------------------------------------------------------------------------------------
// /drcore/pair/1

/** Requester -> responder: "let me replicate to you". Answered by `pair-status`. */
export interface PairRequest {
  type: 'pair-request'
  /** the requester's own name (its config name); the responder may adopt it as the peer's name */
  name: string
  /** multiaddrs the requester listens on, without `/p2p/`, so the responder can call back */
  addresses: string[]
}

/** Requester -> responder: "what did you decide about me?" Answered by `pair-status`. */
export interface PairQuery {
  type: 'pair-query'
}

/** The responder's decision about the requester, as it stands. */
export interface PairStatus {
  type: 'pair-status'
  state: PairState
}

/**
 * `none`: the responder holds no request from the asker (never asked, ignored, or removed);
 * `pending`: the operator has not decided yet; `approved`/`denied`: decided.
 */
export type PairState = 'none' | 'pending' | 'approved' | 'denied'
export const PAIR_STATES: readonly PairState[] = ['none', 'pending', 'approved', 'denied']

/** Responder -> requester, when its operator decides. Answered by `pair-ack`. */
export interface PairDecision {
  type: 'pair-decision'
  decision: 'approved' | 'denied'
}

export interface PairAck {
  type: 'pair-ack'
}

// ---------------------------------------------------------------------------------------------
// /drcore/replicate/1 (source -> target)

/** Offers one recovery point. Answered by `offer-reply`. */
export interface Offer {
  type: 'offer'
  /** the point's id: the CID of its manifest block (dag-cbor) */
  point: CID
  /** the manifest block itself; machine, cluster, parent and origin are read from it */
  manifest: Uint8Array
  /** seed-drive mode: only the delta against the parent follows; the point may stay an orphan */
  seed: boolean
}

export interface OfferReply {
  type: 'offer-reply'
  /** the target already holds this point in the source's tenant */
  known: boolean
  /** ... and holds its whole block closure (then the session is over) */
  complete: boolean
  /** the source may send blocks for it */
  accepted: boolean
  /** why not, when `accepted` is false */
  reason: string | null
}

/** "Which of these blocks are you missing?" Answered by `have-reply`, in order. */
export interface Have {
  type: 'have'
  cids: CID[]
}

export interface HaveReply {
  type: 'have-reply'
  /** number of CIDs asked about */
  count: number
  /** bit i (byte i >> 3, bit i & 7, least significant first) set = `cids[i]` is missing */
  missing: Uint8Array
}

/** Every block has been sent. Answered by `ack`. */
export interface Done {
  type: 'done'
}

export interface Ack {
  type: 'ack'
  point: CID
  /** the target holds the point's whole block closure */
  complete: boolean
  /** blocks of the closure the target still lacks (0 when complete) */
  missing: number
}

/** Which points of this machine does the target hold in my tenant? Answered by `status-reply`. */
export interface Status {
  type: 'status'
  machine: string
}

export interface StatusReply {
  type: 'status-reply'
  machine: string
  /** oldest first */
  points: PointSummary[]
}

/** Deletes every point of this machine from my tenant on the target. Answered by `remove-reply`. */
export interface RemoveMachine {
  type: 'remove-machine'
  machine: string
}

export interface RemoveReply {
  type: 'remove-reply'
  machine: string
  /** points deleted */
  removed: number
}

// ---------------------------------------------------------------------------------------------
// /drcore/fetch/1 (owner -> target, within the owner's tenant)

/** Answered by `points`. */
export interface ListPoints {
  type: 'list-points'
  /** one machine, or null for every machine of the tenant */
  machine: string | null
}

export interface Points {
  type: 'points'
  /** by machine, then oldest first */
  points: PointSummary[]
}

/** Answered by `point`. */
export interface GetPoint {
  type: 'get-point'
  point: CID
}

export interface PointMessage {
  type: 'point'
  point: CID
  manifest: Uint8Array
}

/** Answered by one block frame per CID the tenant holds, in order, then `want-done`. */
export interface Want {
  type: 'want'
  cids: CID[]
}

export interface WantDone {
  type: 'want-done'
  count: number
  /** same layout as `have-reply.missing`: the CIDs not sent */
  missing: Uint8Array
}

/** One recovery point as a target lists it. */
export interface PointSummary {
  point: CID
  machine: string
  cluster: string | null
  /** peer id of the Core that took the point */
  origin: string
  seq: number
  kind: 'base' | 'incremental'
  parent: CID | null
  /** ISO 8601 */
  createdAt: string
  complete: boolean
}

// ---------------------------------------------------------------------------------------------

export type Message =
  | ErrorMessage
  | PairRequest | PairQuery | PairStatus | PairDecision | PairAck
  | Offer | OfferReply | Have | HaveReply | Done | Ack | Status | StatusReply | RemoveMachine | RemoveReply
  | ListPoints | Points | GetPoint | PointMessage | Want | WantDone

export type MessageType = Message['type']
export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>

/** A block frame, decoded. Not a message type: blocks travel as CAR-section bodies. */
export interface BlockFrame {
  type: 'block'
  cid: CID
  bytes: Uint8Array
}

/**
 * A block in its stored form (version 2 protocols): `body` is a zstd frame of the block when
 * `flags & 1`, else the block itself; `rawLength` is the block's length. Nothing about it is
 * proved by decoding: the receiver's store proves it (decompress, rehash) before it counts.
 */
export interface StoredBlockFrame {
  type: 'stored-block'
  cid: CID
  flags: number
  rawLength: number
  body: Uint8Array
}

/** Anything a frame body decodes to. */
export type Frame = Message | BlockFrame | StoredBlockFrame

/** The messages that may open an exchange on each protocol (the replies are fixed by them). */
export const REQUESTS: Record<string, readonly MessageType[]> = {
  [PAIR_PROTOCOL]: ['pair-request', 'pair-query', 'pair-decision'],
  [REPLICATE_PROTOCOL]: ['offer', 'have', 'done', 'status', 'remove-machine'],
  [FETCH_PROTOCOL]: ['list-points', 'get-point', 'want'],
  [REPAIR_PROTOCOL]: ['want'],
  [REPLICATE_PROTOCOL_V2]: ['offer', 'have', 'done', 'status', 'remove-machine'],
  [FETCH_PROTOCOL_V2]: ['list-points', 'get-point', 'want'],
  [REPAIR_PROTOCOL_V2]: ['want']
}
