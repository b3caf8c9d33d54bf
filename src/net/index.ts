/**
 * The network layer of a Core: a libp2p 3 node (TCP + Noise + Yamux + identify) whose every
 * inbound stream passes a trust check, and message streams speaking the drcore wire format.
 *
 * Trust is enforced twice (docs/protocol.md, "Trust"):
 *   1. at the connection: the ConnectionGater refuses peers this Core denied, right after the
 *      Noise handshake has proved who they are;
 *   2. per stream: `handle()` refuses every peer this Core has not approved before the handler
 *      body runs, unless the protocol is registered with `allowUnknown` (pairing only).
 * The gater cannot see protocols, so unknown peers are let through it: the second check is the
 * one that keeps them to pairing.
 */
import type { Connection, PeerId, PrivateKey } from '@libp2p/interface'
import type { EventSink } from '../events/api.ts'
import type { WireStream } from './wire-stream.ts'

export interface PeerTrust {
  /** This Core denied the peer: its connections are refused outright. */
  isDenied (peerId: string): boolean
  /** This Core approved the peer: it may send to us and use every drcore protocol. */
  isAccepted (peerId: string): boolean
}

export interface NodeOptions {
  privateKey: PrivateKey
  /** multiaddrs to listen on, e.g. `/ip4/0.0.0.0/tcp/4101`; port 0 picks a free port */
  listen: string[]
  trust: PeerTrust
  /** receives `peer.refused` warnings (at most one per peer and protocol a minute) */
  events?: EventSink
}

export interface HandlerContext {
  /** the authenticated remote peer (proved by the Noise handshake) */
  peer: PeerId
  connection: Connection
}

/**
 * Serves one inbound stream. When it returns, the stream is closed; when it throws, the peer
 * gets an `error` message (see `errorToWire`) and the stream is closed.
 */
export type ProtocolHandler = (wire: WireStream, context: HandlerContext) => Promise<void>

export interface HandleOptions {
  /** let peers this Core has not approved reach the handler (pairing); default false */
  allowUnknown?: boolean
  /**
   * let these peers this Core has not approved reach the handler as well (repair admits the
   * peers this Core sends to); denied peers stay refused
   */
  admits?: (peerId: string) => boolean
  /** concurrent inbound streams of this protocol per connection; default 8 */
  maxInboundStreams?: number
  /** deadline in ms of each send and receive on the stream; default 30 s */
  timeout?: number
}

export interface OpenOptions {
  /** multiaddrs to dial when there is no open connection (with or without `/p2p/<id>`) */
  addresses?: string[]
  /** how the peer is named in error messages; default its peer id */
  label?: string
  signal?: AbortSignal
  /** deadline in ms of each send and receive on the stream; default 30 s */
  timeout?: number
}

export { createNode, DrcoreNode } from './node.ts'
export { WireStream, errorFromWire, errorToWire, DEFAULT_EXCHANGE_TIMEOUT } from './wire-stream.ts'
export type { WireStreamOptions } from './wire-stream.ts'
export { FrameReader, FrameWriter } from './frames.ts'
export { RateLimiter } from './rate-limit.ts'
export { PeerUnreachableError, PeerTimeoutError, RateLimitedError, RemoteError, StreamEndedError } from './errors.ts'
