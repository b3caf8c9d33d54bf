import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { InvalidInputError } from '../errors.ts'

/**
 * Our decision about a peer: may it send to us (and fetch its tenant back)?
 * `pending`: it asked and our operator has not decided.
 */
export type InboundDecision = 'none' | 'pending' | 'approved' | 'denied'

/**
 * The peer's decision about us: may we send to it?
 * `requested`: we asked and have not heard a decision.
 */
export type OutboundDecision = 'none' | 'requested' | 'approved' | 'denied'

/** The relationship as `peer list` shows it; see `stateOf`. */
export type PeerState = 'requested' | 'pending' | 'approved' | 'denied'

/** One peer as stored in the `peers` sublevel (key: peer id). */
export interface PeerRecord {
  peerId: string
  /** our name for it: given by the operator, or adopted from its announcement when free */
  name: string | null
  /** the name it gave itself in its last pairing request */
  announcedName: string | null
  inbound: InboundDecision
  outbound: OutboundDecision
  /** where its points land on this Core; set when we approve it, kept if we deny it later */
  tenant: string | null
  /** multiaddrs to dial it, without `/p2p/`, most recent first */
  addresses: string[]
  /** our decision, not yet acknowledged by the peer (delivery is retried) */
  unsentDecision: 'approved' | 'denied' | null
  /** ISO times: it last asked us / we last decided / we last asked it / it last answered us */
  requestedAt: string | null
  decidedAt: string | null
  askedAt: string | null
  answeredAt: string | null
  createdAt: string
}

/** A peer as `drcore peer list --json` prints it. */
export interface PeerInfo {
  peerId: string
  name: string | null
  state: PeerState
  /** the tenant its points land in on this Core (null until approved) */
  tenant: string | null
  /** a connection to it is open now */
  online: boolean
  addresses: string[]
  /** we approved it: it may send to us and fetch its tenant back */
  accepts: boolean
  /** it approved us: we may send to it */
  canSendTo: boolean
  announcedName: string | null
  requestedAt: string | null
  askedAt: string | null
}

/**
 * One word for the operator, from the two directional decisions, first match wins:
 *   denied    we denied it (its connections are refused)
 *   pending   it asked us and awaits our decision
 *   approved  at least one direction is open (`accepts` and `canSendTo` say which)
 *   denied    it denied us
 *   requested we asked it and await its decision
 */
export function stateOf (record: PeerRecord): PeerState {
  if (record.inbound === 'denied') return 'denied'
  if (record.inbound === 'pending') return 'pending'
  if (record.inbound === 'approved' || record.outbound === 'approved') return 'approved'
  if (record.outbound === 'denied') return 'denied'
  return 'requested'
}

export function toPeerInfo (record: PeerRecord, online: boolean): PeerInfo {
  return {
    peerId: record.peerId,
    name: record.name,
    state: stateOf(record),
    tenant: record.tenant,
    online,
    addresses: record.addresses,
    accepts: record.inbound === 'approved',
    canSendTo: record.outbound === 'approved',
    announcedName: record.announcedName,
    requestedAt: record.requestedAt,
    askedAt: record.askedAt
  }
}

/** How a peer is named in messages: `name (peer id)`, or the peer id. */
export function peerLabel (record: Pick<PeerRecord, 'peerId' | 'name'>): string {
  return record.name != null ? `${record.name} (${record.peerId})` : record.peerId
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/** A name for a peer or a tenant: 1 to 64 of letters, digits, '.', '_', '-', and not a peer id. */
export function isValidName (name: string): boolean {
  return NAME.test(name) && !isPeerId(name)
}

export function checkName (name: string, what: 'peer name' | 'tenant'): string {
  if (!isValidName(name)) {
    throw new InvalidInputError(`invalid ${what} ${JSON.stringify(name)}: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit (and not a peer id)`)
  }
  return name
}

export function isPeerId (value: string): boolean {
  try {
    peerIdFromString(value)
    return true
  } catch {
    return false
  }
}

/**
 * Splits a multiaddr into the peer id it ends with (`/p2p/<id>`) and the address without it.
 * `InvalidInputError` when it does not parse, names no peer, or names another peer than `expected`.
 */
export function splitAddress (address: string, expected?: string): { peerId: string, address: string } {
  let components
  try {
    components = multiaddr(address).getComponents()
  } catch {
    throw new InvalidInputError(`not a multiaddr: ${address}`)
  }
  const last = components.at(-1)
  const peerId = last?.name === 'p2p' ? last.value : undefined
  if (peerId == null) {
    if (expected != null) return { peerId: expected, address }
    throw new InvalidInputError(`the address ${address} does not say which Core listens there: it must end in /p2p/<peerId> (as printed by drcore id)`)
  }
  if (expected != null && peerId !== expected) throw new InvalidInputError(`the address ${address} belongs to peer ${peerId}, not ${expected}`)
  return { peerId, address: address.slice(0, address.length - `/p2p/${peerId}`.length) }
}
