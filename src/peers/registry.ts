import { SerialQueue } from '../common/serial-queue.ts'
import { InvalidInputError, NotFoundError, UserError } from '../errors.ts'
import type { EventSink, PairingData, PairingEventType } from '../events/api.ts'
import type { PeerTrust } from '../net/index.ts'
import { MAX_ADDRESSES } from '../protocol/index.ts'
import type { PairState } from '../protocol/index.ts'
import { jsonSublevel } from '../store/index.ts'
import type { JsonSublevel, RootDb } from '../store/index.ts'
import { SelfPairingError } from './errors.ts'
import { checkName, isPeerId, isValidName, peerLabel, splitAddress, toPeerInfo } from './record.ts'
import type { PeerInfo, PeerRecord } from './record.ts'

export interface PeerRegistryOptions {
  /** this Core's peer id: it cannot pair with itself */
  self: string
  events?: EventSink
}

/**
 * Every peer this Core knows and the two decisions between it and us (see record.ts), kept in
 * the `peers` sublevel and mirrored in memory: peers are few, and the trust checks run on every
 * connection and stream, so they must not wait for disk. Writes go to LevelDB in order.
 *
 * Methods that act for the operator take `peer` as a peer id or a name; methods driven by the
 * network take the authenticated peer id.
 */
export class PeerRegistry implements PeerTrust {
  readonly #db: JsonSublevel<PeerRecord>
  readonly #peers = new Map<string, PeerRecord>()
  readonly #self: string
  readonly #events: EventSink | undefined
  readonly #approvals = new Set<(peerId: string) => void>()
  readonly #writes = new SerialQueue()

  private constructor (db: JsonSublevel<PeerRecord>, options: PeerRegistryOptions) {
    this.#db = db
    this.#self = options.self
    this.#events = options.events
  }

  static async open (db: RootDb, options: PeerRegistryOptions): Promise<PeerRegistry> {
    const registry = new PeerRegistry(jsonSublevel<PeerRecord>(db, 'peers'), options)
    for await (const [peerId, record] of registry.#db.iterator()) registry.#peers.set(peerId, record)
    return registry
  }

  // --- reading -------------------------------------------------------------------------------

  get (peerId: string): PeerRecord | undefined {
    return this.#peers.get(peerId)
  }

  /** A peer by peer id or name; `NotFoundError` "unknown peer: x" otherwise. */
  resolve (peer: string): PeerRecord {
    const byId = this.#peers.get(peer)
    if (byId != null) return byId
    for (const record of this.#peers.values()) if (record.name === peer) return record
    throw new NotFoundError(`unknown peer: ${peer}`)
  }

  /** Every peer, named ones first by name, then by peer id. */
  list (isOnline: (peerId: string) => boolean = () => false): PeerInfo[] {
    return [...this.#peers.values()]
      .sort((a, b) => (a.name ?? '\uffff' + a.peerId).localeCompare(b.name ?? '\uffff' + b.peerId))
      .map(r => toPeerInfo(r, isOnline(r.peerId)))
  }

  /** Pairing requests waiting for the operator (`drcore peer requests`). */
  requests (isOnline: (peerId: string) => boolean = () => false): PeerInfo[] {
    return this.list(isOnline).filter(p => p.state === 'pending')
  }

  // --- trust (PeerTrust) -----------------------------------------------------------------------

  isDenied (peerId: string): boolean {
    return this.#peers.get(peerId)?.inbound === 'denied'
  }

  /** "May this peer send to me?" (and fetch its tenant back, and ask about it) */
  isAccepted (peerId: string): boolean {
    return this.#peers.get(peerId)?.inbound === 'approved'
  }

  /** "May I send to this peer?" */
  canSendTo (peerId: string): boolean {
    return this.#peers.get(peerId)?.outbound === 'approved'
  }

  /** The tenant an approved peer's points land in; undefined for a peer we have not approved. */
  tenantOf (peerId: string): string | undefined {
    const record = this.#peers.get(peerId)
    return record?.inbound === 'approved' && record.tenant != null ? record.tenant : undefined
  }

  // --- the operator's decisions ----------------------------------------------------------------

  /** Approves a pending (or previously denied) peer into `tenant` (default: its name, else its peer id). */
  async approve (peer: string, options: { tenant?: string } = {}): Promise<PeerRecord> {
    const record = this.resolve(peer)
    if (record.inbound === 'approved') {
      throw new UserError(`peer ${peerLabel(record)} is already approved (tenant ${record.tenant}); to move it to another tenant, remove it and approve it again`)
    }
    if (record.inbound === 'none') {
      throw new UserError(`peer ${peerLabel(record)} has not asked to pair; to accept it before it asks: drcore peer allow ${record.peerId}`)
    }
    const tenant = options.tenant != null ? checkName(options.tenant, 'tenant') : record.tenant ?? record.name ?? record.peerId
    const updated = await this.#put({ ...record, inbound: 'approved', tenant, decidedAt: now(), unsentDecision: record.requestedAt != null ? 'approved' : null })
    this.#emit('pairing.approved', `approved peer ${peerLabel(updated)} into tenant ${tenant}: it may now replicate to this Core`, updated, { by: 'local', tenant })
    return updated
  }

  /** Denies a peer: its connections are refused from now on. Works on any known peer. */
  async deny (peer: string): Promise<PeerRecord> {
    const record = this.resolve(peer)
    if (record.inbound === 'denied') return record
    const updated = await this.#put({
      ...record,
      inbound: 'denied',
      decidedAt: now(),
      // a peer that never asked has no request to answer
      unsentDecision: record.requestedAt != null ? 'denied' : null
    })
    this.#emit('pairing.denied', `denied peer ${peerLabel(updated)}: its connections are refused`, updated, { by: 'local' }, 'warning')
    return updated
  }

  /** Drops a pending request without answering: the peer may ask again (rate-limited). */
  async ignore (peer: string): Promise<void> {
    const record = this.resolve(peer)
    if (record.inbound !== 'pending') throw new UserError(`peer ${peerLabel(record)} has no pending pairing request`)
    if (record.outbound === 'none') await this.#delete(record.peerId)
    else await this.#put({ ...record, inbound: 'none', requestedAt: null })
    this.#emit('pairing.ignored', `ignored the pairing request of peer ${peerLabel(record)}`, record, { by: 'local' })
  }

  /**
   * Pre-approves a peer by id, so its pairing request is accepted at once (a self-managed
   * target); approves it if it is already pending.
   */
  async allow (peerId: string, options: { name?: string, tenant?: string, address?: string } = {}): Promise<PeerRecord> {
    if (!isPeerId(peerId)) throw new InvalidInputError(`not a peer id: ${peerId}`)
    if (peerId === this.#self) throw new SelfPairingError('a Core cannot pair with itself')
    const existing = this.#peers.get(peerId)
    const record = existing ?? emptyRecord(peerId)
    const name = options.name != null ? this.#checkFreeName(options.name, peerId) : record.name
    const tenant = options.tenant != null ? checkName(options.tenant, 'tenant') : record.tenant ?? name ?? peerId
    const addresses = options.address != null ? mergeAddresses([splitAddress(options.address, peerId).address], record.addresses) : record.addresses
    const updated = await this.#put({
      ...record,
      name,
      tenant,
      addresses,
      inbound: 'approved',
      decidedAt: now(),
      unsentDecision: record.requestedAt != null && record.inbound !== 'approved' ? 'approved' : record.unsentDecision
    })
    this.#emit('pairing.allowed', `allowed peer ${peerLabel(updated)} into tenant ${tenant}: its pairing request will be accepted`, updated, { by: 'local', tenant })
    return updated
  }

  /** Forgets a peer in both directions. Points in its tenant stay. */
  async remove (peer: string): Promise<PeerRecord> {
    const record = this.resolve(peer)
    await this.#delete(record.peerId)
    this.#emit('peer.removed', `removed peer ${peerLabel(record)}`, record, { by: 'local' })
    return record
  }

  /** Gives a peer another name (`drcore peer set --name`): rules and listings follow it. */
  async rename (peer: string, name: string): Promise<PeerRecord> {
    const record = this.resolve(peer)
    this.#checkFreeName(name, record.peerId)
    if (record.name === name) return record
    const updated = await this.#put({ ...record, name })
    this.#emit('peer.renamed', `renamed peer ${peerLabel(record)} to ${name}`, updated, { by: 'local', previous: record.name })
    return updated
  }

  /** Forgets one address of a peer (`drcore peer remove-address`). */
  async removeAddress (peer: string, address: string): Promise<PeerRecord> {
    const record = this.resolve(peer)
    const bare = splitAddress(address, record.peerId).address
    if (!record.addresses.includes(bare)) {
      throw new NotFoundError(`peer ${peerLabel(record)} has no address ${bare}; its addresses: ${record.addresses.join(', ') || '(none)'}`)
    }
    const updated = await this.#put({ ...record, addresses: record.addresses.filter(a => a !== bare) })
    this.#emit('peer.address-removed', `removed address ${bare} of peer ${peerLabel(updated)}`, updated, { by: 'local', address: bare })
    return updated
  }

  // --- pairing, our side: we ask them ----------------------------------------------------------

  /** Records that we are asking `peerId` to pair (before the request is sent). */
  async asking (peerId: string, options: { name?: string, address: string }): Promise<PeerRecord> {
    if (peerId === this.#self) throw new SelfPairingError('that address is this Core\'s own: a Core cannot pair with itself')
    const record = this.#peers.get(peerId) ?? emptyRecord(peerId)
    // a name names a peer that has none; a named peer is renamed only when asked (rename)
    const name = record.name ?? (options.name != null ? this.#checkFreeName(options.name, peerId) : null)
    return await this.#put({
      ...record,
      name,
      addresses: mergeAddresses([options.address], record.addresses),
      outbound: record.outbound === 'approved' ? 'approved' : 'requested',
      askedAt: now()
    })
  }

  /** Puts back what `asking` replaced, when the request could not be delivered. */
  async restore (peerId: string, previous: PeerRecord | undefined): Promise<void> {
    if (previous == null) await this.#delete(peerId)
    else await this.#put(previous)
  }

  /**
   * Records the peer's answer to our request or query. `none` (it holds no request from us:
   * ignored, or it forgot us) leaves our request open as `requested`: we may ask again.
   */
  async answered (peerId: string, state: PairState, options: { delivered?: boolean } = {}): Promise<PeerRecord> {
    const record = this.#peers.get(peerId)
    if (record == null) throw new NotFoundError(`unknown peer: ${peerId}`)
    const outbound = state === 'approved' ? 'approved' : state === 'denied' ? 'denied' : 'requested'
    const updated = await this.#put({ ...record, outbound, answeredAt: now() })
    if (options.delivered === true && state === 'pending') {
      this.#emit('pairing.requested', `pairing request delivered to peer ${peerLabel(updated)}; waiting for its approval`, updated, { by: 'local' })
    }
    this.#announceOutbound(record, updated)
    return updated
  }

  /** Records a decision the peer sent us. Only a peer we asked may send one. */
  async decided (peerId: string, decision: 'approved' | 'denied'): Promise<PeerRecord> {
    const record = this.#peers.get(peerId)
    if (record == null || record.outbound === 'none') throw new NotFoundError(`this Core has not asked peer ${peerId} to pair`)
    const updated = await this.#put({ ...record, outbound: decision, answeredAt: now() })
    this.#announceOutbound(record, updated)
    return updated
  }

  /**
   * Calls `listener` with the peer id whenever a peer approves this Core (its decision about
   * us), until the returned function is called: the scheduler starts the rules to that peer.
   */
  onApproval (listener: (peerId: string) => void): () => void {
    this.#approvals.add(listener)
    return () => { this.#approvals.delete(listener) }
  }

  #announceOutbound (before: PeerRecord, after: PeerRecord): void {
    if (before.outbound === after.outbound) return
    if (after.outbound === 'approved') {
      this.#emit('pairing.approved', `peer ${peerLabel(after)} approved this Core: replication to it is allowed`, after, { by: 'remote' })
      for (const listener of [...this.#approvals]) listener(after.peerId)
    } else if (after.outbound === 'denied') {
      this.#emit('pairing.denied', `peer ${peerLabel(after)} denied this Core's pairing request`, after, { by: 'remote' }, 'warning')
    }
  }

  // --- pairing, their side: they ask us --------------------------------------------------------

  /**
   * Records a pairing request from `peerId` and returns our decision as it stands: `approved`
   * for a peer we approved or allowed, `denied`, or `pending` (a new or repeated request).
   */
  async requested (peerId: string, request: { name: string, addresses: string[] }): Promise<PairState> {
    if (peerId === this.#self) throw new SelfPairingError('a Core cannot pair with itself')
    const existing = this.#peers.get(peerId)
    const record = existing ?? emptyRecord(peerId)
    if (record.inbound === 'denied') return 'denied'
    const adoptName = record.name == null && isValidName(request.name) && this.#nameOwner(request.name) == null
    const updated = await this.#put({
      ...record,
      name: adoptName ? request.name : record.name,
      announcedName: request.name,
      addresses: mergeAddresses(request.addresses, record.addresses),
      inbound: record.inbound === 'approved' ? 'approved' : 'pending',
      requestedAt: now()
    })
    if (record.inbound === 'none') {
      this.#emit('pairing.requested', `peer ${peerLabel(updated)} asks to pair: approve, deny or ignore it (drcore peer requests)`, updated, { by: 'remote' })
    } else if (record.inbound === 'approved' && record.requestedAt == null) {
      this.#emit('pairing.approved', `peer ${peerLabel(updated)} paired: it was allowed into tenant ${updated.tenant}`, updated, { by: 'local', tenant: updated.tenant, allowed: true })
    }
    return updated.inbound === 'approved' ? 'approved' : 'pending'
  }

  /** Our decision about `peerId` as a pairing status. */
  statusFor (peerId: string): PairState {
    const record = this.#peers.get(peerId)
    if (record == null || record.inbound === 'none') return 'none'
    return record.inbound
  }

  // --- decisions to deliver --------------------------------------------------------------------

  /** Peers owed a decision they have not acknowledged. */
  undelivered (): PeerRecord[] {
    return [...this.#peers.values()].filter(r => r.unsentDecision != null)
  }

  /** Marks `decision` delivered, unless the operator changed it meanwhile. */
  async delivered (peerId: string, decision: 'approved' | 'denied'): Promise<void> {
    const record = this.#peers.get(peerId)
    if (record?.unsentDecision !== decision) return
    await this.#put({ ...record, unsentDecision: null })
  }

  // --- addresses -------------------------------------------------------------------------------

  /** Remembers where a known peer listens (from identify), so it can be dialled later. */
  async seen (peerId: string, addresses: string[]): Promise<void> {
    const record = this.#peers.get(peerId)
    if (record == null || addresses.length === 0) return
    const merged = mergeAddresses(addresses, record.addresses)
    if (merged.join(' ') === record.addresses.join(' ')) return
    await this.#put({ ...record, addresses: merged })
  }

  // ---------------------------------------------------------------------------------------------

  #checkFreeName (name: string, peerId: string): string {
    checkName(name, 'peer name')
    const owner = this.#nameOwner(name)
    if (owner != null && owner !== peerId) throw new UserError(`the name ${name} is already used by peer ${owner}`)
    return name
  }

  #nameOwner (name: string): string | undefined {
    for (const record of this.#peers.values()) if (record.name === name) return record.peerId
    return undefined
  }

  /** Updates memory at once (so checks see it) and LevelDB in call order. */
  async #put (record: PeerRecord): Promise<PeerRecord> {
    const previous = this.#peers.get(record.peerId)
    this.#peers.set(record.peerId, record)
    try {
      await this.#writes.run(async () => { await this.#db.put(record.peerId, record) })
    } catch (err) {
      if (this.#peers.get(record.peerId) === record) this.#remember(record.peerId, previous)
      throw err
    }
    return record
  }

  async #delete (peerId: string): Promise<void> {
    const previous = this.#peers.get(peerId)
    this.#peers.delete(peerId)
    try {
      await this.#writes.run(async () => { await this.#db.del(peerId) })
    } catch (err) {
      if (!this.#peers.has(peerId)) this.#remember(peerId, previous)
      throw err
    }
  }

  #remember (peerId: string, record: PeerRecord | undefined): void {
    if (record == null) this.#peers.delete(peerId)
    else this.#peers.set(peerId, record)
  }

  #emit (type: PairingEventType, message: string, record: PeerRecord, data: Omit<PairingData, 'peerId' | 'name'>, level: 'info' | 'warning' = 'info'): void {
    this.#events?.emit(type, message, { peerId: record.peerId, name: record.name, ...data }, level)
  }
}

function emptyRecord (peerId: string): PeerRecord {
  return {
    peerId,
    name: null,
    announcedName: null,
    inbound: 'none',
    outbound: 'none',
    tenant: null,
    addresses: [],
    unsentDecision: null,
    requestedAt: null,
    decidedAt: null,
    askedAt: null,
    answeredAt: null,
    createdAt: now()
  }
}

/** `fresh` first, then the rest of `known`, without duplicates or `/p2p/` suffixes, at most 16. */
function mergeAddresses (fresh: string[], known: string[]): string[] {
  const out = new Set<string>()
  for (const a of [...fresh, ...known]) out.add(a.replace(/\/p2p\/[^/]+$/, ''))
  return [...out].slice(0, MAX_ADDRESSES)
}

function now (): string {
  return new Date().toISOString()
}
