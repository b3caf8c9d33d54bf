import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import type { Libp2p, Logger, PeerId, Stream } from '@libp2p/interface'
import { UnsupportedProtocolError } from '@libp2p/interface'
import { InvalidInputError, isExpectedError, NotAuthorizedError } from '../errors.ts'
import type { EventSink } from '../events/api.ts'
import { PeerTimeoutError, PeerUnreachableError, ProtocolNotServedError } from './errors.ts'
import { RateLimiter } from './rate-limit.ts'
import { listenErrorOf } from './listen-error.ts'
import { WireStream } from './wire-stream.ts'
import type { HandleOptions, NodeOptions, OpenOptions, PeerTrust, ProtocolHandler } from './api.ts'

/** Deadline of a dial plus protocol negotiation, when the caller passes no signal. */
const DEFAULT_DIAL_TIMEOUT = 10_000
/** Yamux grows a stream's receive window up to 16 MiB; a paused stream must be able to hold it. */
const STREAM_READ_BUFFER = 16 * 1024 * 1024 + 1024 * 1024

/** Builds and starts a Core's libp2p node (TCP + Noise + Yamux + identify). */
export async function createNode (options: NodeOptions): Promise<DrcoreNode> {
  const { trust } = options
  const libp2p = await createLibp2p({
    privateKey: options.privateKey,
    addresses: { listen: options.listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({ streamOptions: { maxReadBufferLength: STREAM_READ_BUFFER } })],
    services: { identify: identify() },
    connectionGater: {
      // runs after the Noise handshake, so the peer id is proved; unknown peers pass here and
      // are kept to pairing by handle()
      denyInboundEncryptedConnection: (peerId) => trust.isDenied(peerId.toString())
    },
    // yamux keep-alives already detect dead connections; the monitor would open a ping stream
    // to every peer every 10 s for a protocol drcore does not serve
    connectionMonitor: { enabled: false },
    nodeInfo: { name: 'drcore', version: '1', userAgent: 'drcore/1' },
    start: false
  })
  const node = new DrcoreNode(libp2p, trust, options.events)
  try {
    await node.start()
  } catch (err: any) {
    await Promise.resolve(libp2p.stop()).catch(() => {})
    throw listenErrorOf(err, options.listen)
  }
  return node
}

/**
 * A started libp2p node with drcore's trust checks. `libp2p` stays reachable for what this class
 * does not wrap (events such as `peer:identify`, metrics).
 */
export class DrcoreNode {
  readonly libp2p: Libp2p
  readonly #trust: PeerTrust
  readonly #events: EventSink | undefined
  readonly #log: Logger
  /** one `peer.refused` event per peer and protocol a minute */
  readonly #refusalEvents = new RateLimiter({ limit: 1, intervalMs: 60_000 })

  constructor (libp2p: Libp2p, trust: PeerTrust, events?: EventSink) {
    this.libp2p = libp2p
    this.#trust = trust
    this.#events = events
    this.#log = libp2p.logger.forComponent('drcore:net')
  }

  get peerId (): PeerId {
    return this.libp2p.peerId
  }

  async start (): Promise<void> {
    await this.libp2p.start()
  }

  /** Closes every connection and the listeners; handlers are dropped. */
  async stop (): Promise<void> {
    await this.libp2p.stop()
  }

  /** The addresses this node listens on, each ending in `/p2p/<peerId>`. */
  addresses (): string[] {
    const suffix = `/p2p/${this.peerId.toString()}`
    return this.libp2p.getMultiaddrs().map(String).map(a => a.endsWith(suffix) ? a : a + suffix)
  }

  /** true while at least one connection to the peer is open */
  isOnline (peerId: string): boolean {
    return this.libp2p.getConnections().some(c => c.status === 'open' && c.remotePeer.toString() === peerId)
  }

  /** Closes every connection to the peer. */
  async hangUp (peerId: string): Promise<void> {
    await this.libp2p.hangUp(peerIdFromString(peerId))
  }

  /**
   * Serves `protocol`. Before `handler` runs, the peer is checked: a denied peer is refused on
   * every protocol, a peer this Core has not approved on every protocol but those registered
   * with `allowUnknown` (or whose `admits` lets it in). A refused peer receives an `error`
   * message (`not-authorized`).
   */
  async handle (protocol: string, handler: ProtocolHandler, options: HandleOptions = {}): Promise<void> {
    const allowUnknown = options.allowUnknown === true
    await this.libp2p.handle(protocol, async (stream, connection) => {
      const peer = connection.remotePeer
      const id = peer.toString()
      const wire = new WireStream(stream, { peer: id, timeout: options.timeout, onBytes: options.onBytes })
      const refusal = this.#refusal(id, protocol, allowUnknown || options.admits?.(id) === true, options.admits !== undefined)
      if (refusal != null) {
        this.#refused(id, protocol, refusal)
        await wire.fail(new NotAuthorizedError(refusal))
        return
      }
      try {
        await handler(wire, { peer, connection })
        await wire.close()
      } catch (err: any) {
        if (!isExpectedError(err)) this.#log.error('%s handler failed for peer %s - %e', protocol, id, err)
        else this.#log('%s: peer %s - %s', protocol, id, err.message)
        await wire.fail(err)
      }
    }, { maxInboundStreams: options.maxInboundStreams ?? 8 })
  }

  async unhandle (protocol: string): Promise<void> {
    await this.libp2p.unhandle(protocol)
  }

  /**
   * Opens a stream to `peer` on `protocol`: over an open connection when there is one, else by
   * dialling `addresses`. Given several protocols (newest version first), the peer picks the
   * first it serves (`WireStream.stream.protocol` says which). Failures are
   * `PeerUnreachableError`, `PeerTimeoutError`, or `ProtocolNotServedError` when the peer serves
   * none of them.
   */
  async open (peer: PeerId | string, protocols: string | string[], options: OpenOptions = {}): Promise<WireStream> {
    const protocol = Array.isArray(protocols) ? protocols.join(' or ') : protocols
    const peerId = typeof peer === 'string' ? parsePeerId(peer) : peer
    const id = peerId.toString()
    const label = options.label ?? id
    const addresses = (options.addresses ?? []).map(a => dialAddress(a, id))
    const signal = options.signal ?? AbortSignal.timeout(DEFAULT_DIAL_TIMEOUT)
    let stream: Stream
    try {
      const connection = this.libp2p.getConnections(peerId).find(c => c.status === 'open')
      stream = connection != null
        ? await connection.newStream(protocols, { signal })
        : await this.libp2p.dialProtocol(addresses.length > 0 ? addresses : peerId, protocols, { signal })
    } catch (err: any) {
      throw dialError(err, label, protocol, addresses, signal)
    }
    return new WireStream(stream, { peer: label, timeout: options.timeout, onBytes: options.onBytes })
  }

  /**
   * Dials exactly `address` (a new connection, even when one to the peer is open) and so proves
   * that `peerId` listens there: the Noise handshake checks the key. The connection stays open
   * for what follows unless another one was open already. `PeerUnreachableError` naming the
   * address when nothing answers, or another Core does.
   */
  async probe (address: string, peerId: string, options: { label?: string, signal?: AbortSignal } = {}): Promise<void> {
    const label = options.label ?? peerId
    const ma = dialAddress(address, peerId)
    const signal = options.signal ?? AbortSignal.timeout(DEFAULT_DIAL_TIMEOUT)
    const open = this.libp2p.getConnections(peerIdFromString(peerId)).filter(c => c.status === 'open')
    // a connection this node dialled to that very address proved it already
    if (open.some(c => c.direction === 'outbound' && c.remoteAddr.decapsulateCode(421).equals(ma.decapsulateCode(421)))) return
    const connectedBefore = open.length > 0
    let connection
    try {
      connection = await this.libp2p.dial(ma, { signal, force: true })
    } catch (err: any) {
      if (/identity key/i.test(String(err?.message))) {
        throw new PeerUnreachableError(label, `another Core than peer ${label} listens at ${String(ma.decapsulateCode(421))}: check the address (drcore id on that Core prints its own)`)
      }
      throw dialError(err, label, 'a connection', [ma], signal)
    }
    if (connectedBefore) await connection.close().catch(() => {})
  }

  #refusal (peerId: string, protocol: string, allowUnknown: boolean, admitsOthers = false): string | undefined {
    if (this.#trust.isDenied(peerId)) return `this Core has denied peer ${peerId}`
    if (!allowUnknown && !this.#trust.isAccepted(peerId)) {
      const who = admitsOthers ? 'approved peers and the peers this Core sends to' : 'approved peers'
      return `this Core has not approved peer ${peerId}; ${protocol} is for ${who} only (pair first: drcore peer add)`
    }
    return undefined
  }

  #refused (peerId: string, protocol: string, reason: string): void {
    this.#log('refused %s from %s: %s', protocol, peerId, reason)
    if (this.#events != null && this.#refusalEvents.take(`${peerId} ${protocol}`)) {
      this.#events.emit('peer.refused', `refused ${protocol} from peer ${peerId}: ${reason}`, { peerId, protocol }, 'warning')
    }
  }
}

function parsePeerId (peer: string): PeerId {
  try {
    return peerIdFromString(peer)
  } catch {
    throw new InvalidInputError(`not a peer id: ${peer}`)
  }
}

/** `address` with `/p2p/<peerId>` at the end; refuses an address that names another peer. */
function dialAddress (address: string, peerId: string): Multiaddr {
  let ma: Multiaddr
  try {
    ma = multiaddr(address)
  } catch {
    throw new InvalidInputError(`not a multiaddr: ${address}`)
  }
  const named = ma.getComponents().findLast(c => c.name === 'p2p')?.value
  if (named == null) return ma.encapsulate(`/p2p/${peerId}`)
  if (named !== peerId) throw new InvalidInputError(`address ${address} belongs to peer ${named}, not ${peerId}`)
  return ma
}

function dialError (err: any, label: string, protocol: string, addresses: Multiaddr[], signal: AbortSignal): Error {
  if (isExpectedError(err)) return err
  const where = addresses.length > 0 ? ` at ${addresses.map(String).join(', ')}` : ''
  if (isUnsupportedProtocol(err)) return new ProtocolNotServedError(label, protocol)
  if (signal.aborted) {
    return new PeerTimeoutError(label, `could not reach peer ${label}${where} before the deadline`)
  }
  if (/identity key/i.test(String(err?.message))) {
    // libp2p's "Payload identity key X does not match expected remote identity key Y"
    return new PeerUnreachableError(label, `another Core than peer ${label} answers${where}: the address is stale or wrong; ` +
      'drcore id on that Core prints its addresses (drcore peer remove-address drops a wrong one)')
  }
  if (err?.name === 'NoValidAddressesError') {
    return new PeerUnreachableError(label, `no known address for peer ${label}; give one (a multiaddr ending in /p2p/${label})`)
  }
  // libp2p sometimes rejects with a DOM Event (a socket's close/error) rather than an Error
  const closedEarly = err?.name === 'UnexpectedEOFError' || (!(err instanceof Error) && typeof err?.type === 'string')
  const detail = err instanceof Error ? err.message : closedEarly ? 'the connection closed' : String(err)
  const hint = closedEarly ? ' (the connection closed during the handshake: the peer may have denied this Core)' : ''
  return new PeerUnreachableError(label, `cannot reach peer ${label}${where}: ${detail}${hint}`)
}

/**
 * libp2p's protocol negotiation found no protocol in common: the peer lacks a handler. Told by
 * the error's class (by its name too, should another copy of @libp2p/interface have made it).
 */
function isUnsupportedProtocol (err: unknown): boolean {
  return err instanceof UnsupportedProtocolError || (err as Error | undefined)?.name === UnsupportedProtocolError.name
}
