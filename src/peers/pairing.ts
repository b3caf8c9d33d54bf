import type { Connection, IdentifyResult, Logger, PeerId } from '@libp2p/interface'
import { MalformedError, NotAuthorizedError, NotFoundError } from '../errors.ts'
import { RateLimitedError, RateLimiter } from '../net/index.ts'
import type { DrcoreNode, WireStream } from '../net/index.ts'
import { MAX_ADDRESSES, PAIR_PROTOCOL } from '../protocol/index.ts'
import type { PairState } from '../protocol/index.ts'
import { SelfPairingError } from './errors.ts'
import { peerLabel, splitAddress, toPeerInfo } from './record.ts'
import type { PeerInfo, PeerRecord } from './record.ts'
import type { PairingOperations } from './operations.ts'
import type { PeerRegistry } from './registry.ts'

export interface RateLimit {
  /** requests allowed in a burst */
  limit: number
  /** time in ms to earn the whole burst back */
  intervalMs: number
}

export interface PairingOptions {
  node: DrcoreNode
  registry: PeerRegistry
  /** this Core's name, announced in its pairing requests */
  name: string
  /** pairing requests and queries from one peer that has not been approved; default 3 a minute */
  perPeer?: RateLimit
  /** ... and from one IP address, whatever the peer id; default 10 a minute */
  perAddress?: RateLimit
  /** how often undelivered decisions are retried, in ms; default 60 s */
  retryInterval?: number
  /** deadline of one exchange with a peer, in ms; default 10 s */
  timeout?: number
}

const DEFAULT_PER_PEER: RateLimit = { limit: 3, intervalMs: 60_000 }
const DEFAULT_PER_ADDRESS: RateLimit = { limit: 10, intervalMs: 60_000 }

/**
 * The pairing protocol (`/drcore/pair/1`, docs/protocol.md): serves requests, queries and
 * decisions from other Cores, sends ours, and delivers the operator's decisions to the peers
 * that asked, retrying until they acknowledge.
 *
 * The operator's actions are here (rather than only on the registry) when they involve the
 * network: telling the peer, or closing its connections.
 */
export class PairingService implements PairingOperations {
  readonly #node: DrcoreNode
  readonly #registry: PeerRegistry
  readonly #name: string
  readonly #timeout: number
  readonly #retryInterval: number
  readonly #perPeer: RateLimiter
  readonly #perAddress: RateLimiter
  /** one automatic status query per peer a minute, when it connects */
  readonly #autoQuery = new RateLimiter({ limit: 1, intervalMs: 60_000 })
  readonly #delivering = new Map<string, Promise<void>>()
  /** peers we are sending a request to right now (their connect event needs no status query) */
  readonly #asking = new Set<string>()
  readonly #log: Logger
  #timer: NodeJS.Timeout | undefined
  #running = false

  readonly #onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    const { peerId, listenAddrs } = evt.detail
    this.#registry.seen(peerId.toString(), listenAddrs.map(String).slice(0, MAX_ADDRESSES)).catch(err => {
      this.#log.error('cannot record the addresses of %p - %e', peerId, err)
    })
  }

  readonly #onConnect = (evt: CustomEvent<PeerId>): void => {
    const record = this.#registry.get(evt.detail.toString())
    if (record == null) return
    // the peer is reachable now: tell it our decision, or ask for its own
    if (record.unsentDecision != null) this.#deliverInBackground(record.peerId)
    if (record.outbound === 'requested' && !this.#asking.has(record.peerId) && this.#autoQuery.take(record.peerId)) {
      this.query(record.peerId).catch(err => { this.#log('status query to %s failed - %s', record.peerId, err.message) })
    }
  }

  constructor (options: PairingOptions) {
    this.#node = options.node
    this.#registry = options.registry
    this.#name = options.name
    this.#timeout = options.timeout ?? 10_000
    this.#retryInterval = options.retryInterval ?? 60_000
    const perPeer = options.perPeer ?? DEFAULT_PER_PEER
    const perAddress = options.perAddress ?? DEFAULT_PER_ADDRESS
    this.#perPeer = new RateLimiter({ limit: perPeer.limit, intervalMs: perPeer.intervalMs })
    this.#perAddress = new RateLimiter({ limit: perAddress.limit, intervalMs: perAddress.intervalMs })
    this.#log = options.node.libp2p.logger.forComponent('drcore:pairing')
  }

  /** Serves `/drcore/pair/1` and starts delivering pending decisions. */
  async start (): Promise<void> {
    await this.#node.handle(PAIR_PROTOCOL, async (wire, { peer, connection }) => { await this.#serve(wire, peer.toString(), connection) }, {
      allowUnknown: true,
      maxInboundStreams: 2,
      timeout: this.#timeout
    })
    this.#node.libp2p.addEventListener('peer:identify', this.#onIdentify)
    this.#node.libp2p.addEventListener('peer:connect', this.#onConnect)
    this.#running = true
    this.#timer = setInterval(() => { void this.deliverDecisions() }, this.#retryInterval)
    this.#timer.unref()
    void this.deliverDecisions()
  }

  async stop (): Promise<void> {
    this.#running = false
    clearInterval(this.#timer)
    this.#node.libp2p.removeEventListener('peer:identify', this.#onIdentify)
    this.#node.libp2p.removeEventListener('peer:connect', this.#onConnect)
    await this.#node.unhandle(PAIR_PROTOCOL)
    await Promise.allSettled(this.#delivering.values())
  }

  /** Every peer, with `online` from the node's connections. */
  list (): PeerInfo[] {
    return this.#registry.list(id => this.#node.isOnline(id))
  }

  requests (): PeerInfo[] {
    return this.#registry.requests(id => this.#node.isOnline(id))
  }

  // --- asking (drcore peer add) ----------------------------------------------------------------

  /**
   * Sends a pairing request to the Core at `address` (a multiaddr ending in `/p2p/<peerId>`).
   * Returns the peer as it stands afterwards: `requested` until it decides, or `approved` at
   * once if it allowed us beforehand. Nothing is recorded if the request cannot be delivered.
   */
  async request (address: string, options: { name?: string } = {}): Promise<PeerInfo> {
    const target = splitAddress(address)
    const previous = this.#registry.get(target.peerId)
    if (target.peerId === this.#node.peerId.toString()) throw new SelfPairingError('that address is this Core\'s own: a Core cannot pair with itself')
    // nothing is recorded, and no known peer changes, unless that very address reaches that peer
    await this.#node.probe(target.address, target.peerId, { label: previous != null ? peerLabel(previous) : target.peerId })
    const record = await this.#registry.asking(target.peerId, { name: options.name, address: target.address })
    let state: PairState
    this.#asking.add(record.peerId)
    try {
      const wire = await this.#node.open(record.peerId, PAIR_PROTOCOL, { addresses: [target.address], label: peerLabel(record), timeout: this.#timeout })
      state = (await this.#exchange(wire, { type: 'pair-request', name: this.#name, addresses: this.#announcedAddresses() })).state
    } catch (err) {
      await this.#registry.restore(record.peerId, previous)
      throw err
    } finally {
      this.#asking.delete(record.peerId)
    }
    return this.#info(await this.#registry.answered(record.peerId, state, { delivered: true }))
  }

  /** Asks a peer we requested what it decided, and records the answer. */
  async query (peer: string): Promise<PeerInfo> {
    const record = this.#registry.resolve(peer)
    if (record.outbound === 'none') throw new NotFoundError(`this Core has not asked peer ${peerLabel(record)} to pair (drcore peer add)`)
    const wire = await this.#node.open(record.peerId, PAIR_PROTOCOL, { addresses: record.addresses, label: peerLabel(record), timeout: this.#timeout })
    const { state } = await this.#exchange(wire, { type: 'pair-query' })
    return this.#info(await this.#registry.answered(record.peerId, state))
  }

  // --- deciding (drcore peer approve/deny/ignore/allow/remove) ---------------------------------

  async approve (peer: string, options: { tenant?: string } = {}): Promise<PeerInfo> {
    const record = await this.#registry.approve(peer, options)
    this.#deliverInBackground(record.peerId)
    return this.#info(record)
  }

  /** Denies the peer, closes its connections, and tells it (on a connection we open). */
  async deny (peer: string): Promise<PeerInfo> {
    const record = await this.#registry.deny(peer)
    await this.#hangUp(record.peerId)
    this.#deliverInBackground(record.peerId)
    return this.#info(record)
  }

  async ignore (peer: string): Promise<void> {
    await this.#registry.ignore(peer)
  }

  async allow (peerId: string, options: { name?: string, tenant?: string, address?: string } = {}): Promise<PeerInfo> {
    const record = await this.#registry.allow(peerId, options)
    this.#deliverInBackground(record.peerId)
    return this.#info(record)
  }

  async rename (peer: string, name: string): Promise<PeerInfo> {
    return this.#info(await this.#registry.rename(peer, name))
  }

  async removeAddress (peer: string, address: string): Promise<PeerInfo> {
    return this.#info(await this.#registry.removeAddress(peer, address))
  }

  /** Forgets the peer and closes its connections. */
  async remove (peer: string): Promise<PeerInfo> {
    const record = await this.#registry.remove(peer)
    await this.#hangUp(record.peerId)
    return toPeerInfo(record, false)
  }

  /**
   * Tries to deliver every decision a peer has not acknowledged (on start, on a timer, and when
   * such a peer connects). Resolves when every attempt has finished; failures are retried later.
   */
  async deliverDecisions (): Promise<void> {
    const attempts = this.#registry.undelivered().map(async record => { await this.#deliver(record.peerId) })
    for (const result of await Promise.allSettled(attempts)) {
      if (result.status === 'rejected') this.#log.error('cannot record the delivery of a decision - %e', result.reason)
    }
  }

  // ---------------------------------------------------------------------------------------------

  async #serve (wire: WireStream, peerId: string, connection: Connection): Promise<void> {
    for (let frame = await wire.receive(); frame != null; frame = await wire.receive()) {
      switch (frame.type) {
        case 'pair-request':
          this.#checkRate(peerId, connection)
          await wire.send({ type: 'pair-status', state: await this.#registry.requested(peerId, frame) })
          break
        case 'pair-query':
          this.#checkRate(peerId, connection)
          await wire.send({ type: 'pair-status', state: this.#registry.statusFor(peerId) })
          break
        case 'pair-decision':
          await this.#registry.decided(peerId, frame.decision)
          await wire.send({ type: 'pair-ack' })
          break
        default:
          throw new MalformedError(`${frame.type === 'block' ? 'a block' : frame.type} is not a request of ${PAIR_PROTOCOL}`)
      }
    }
  }

  /** Unknown peers are free to generate new ids, hence the second limit per IP address. */
  #checkRate (peerId: string, connection: Connection): void {
    if (this.#registry.isAccepted(peerId)) return
    const ip = connection.remoteAddr.getComponents().find(c => c.name === 'ip4' || c.name === 'ip6')?.value ?? 'unknown'
    if (!this.#perPeer.take(peerId) || !this.#perAddress.take(ip)) {
      this.#log('rate-limited pairing from %s at %s', peerId, ip)
      throw new RateLimitedError(`too many pairing requests from peer ${peerId} (or its address ${ip}); try again later`)
    }
  }

  async #exchange (wire: WireStream, message: { type: 'pair-request', name: string, addresses: string[] } | { type: 'pair-query' }): Promise<{ state: PairState }> {
    try {
      const status = await wire.request(message, 'pair-status')
      await wire.close()
      return status
    } catch (err: any) {
      wire.abort(err)
      throw err
    }
  }

  #deliverInBackground (peerId: string): void {
    if (!this.#running) return
    this.#deliver(peerId).catch(err => { this.#log.error('cannot record the delivery of our decision to %s - %e', peerId, err) })
  }

  /** One delivery attempt per peer at a time. */
  async #deliver (peerId: string): Promise<void> {
    const inFlight = this.#delivering.get(peerId)
    if (inFlight != null) return await inFlight
    const attempt = this.#deliverOnce(peerId).finally(() => { this.#delivering.delete(peerId) })
    this.#delivering.set(peerId, attempt)
    await attempt
  }

  async #deliverOnce (peerId: string): Promise<void> {
    const record = this.#registry.get(peerId)
    const decision = record?.unsentDecision
    if (record == null || decision == null) return
    try {
      const wire = await this.#node.open(peerId, PAIR_PROTOCOL, { addresses: record.addresses, label: peerLabel(record), timeout: this.#timeout })
      try {
        await wire.request({ type: 'pair-decision', decision }, 'pair-ack')
        await wire.close()
      } catch (err: any) {
        wire.abort(err)
        throw err
      }
    } catch (err: any) {
      // a peer that no longer waits for our answer (it forgot us, or denied us) will never
      // acknowledge it: stop trying
      if (!(err instanceof NotFoundError || err instanceof NotAuthorizedError)) {
        this.#log('could not tell %s our decision (%s), will retry - %s', peerId, decision, err.message)
        return
      }
      this.#log('%s does not wait for our decision - %s', peerId, err.message)
    }
    await this.#registry.delivered(peerId, decision)
  }

  async #hangUp (peerId: string): Promise<void> {
    try {
      await this.#node.hangUp(peerId)
    } catch (err: any) {
      this.#log('hang up %s - %s', peerId, err.message)
    }
  }

  /** Our listening addresses without `/p2p/`, as the wire's `pair-request.addresses` wants them. */
  #announcedAddresses (): string[] {
    const suffix = `/p2p/${this.#node.peerId.toString()}`
    return this.#node.addresses()
      .map(a => a.endsWith(suffix) ? a.slice(0, -suffix.length) : a)
      .filter(a => a.length <= 256)
      .slice(0, MAX_ADDRESSES)
  }

  #info (record: PeerRecord): PeerInfo {
    return toPeerInfo(record, this.#node.isOnline(record.peerId))
  }
}
