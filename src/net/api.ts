/** The types of the network layer (index.ts describes it and exports them with the node). */
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
  /** told the bytes of every frame sent and received on the stream */
  onBytes?: (direction: 'sent' | 'received', bytes: number) => void
}

export interface OpenOptions {
  /** multiaddrs to dial when there is no open connection (with or without `/p2p/<id>`) */
  addresses?: string[]
  /** how the peer is named in error messages; default its peer id */
  label?: string
  signal?: AbortSignal
  /** deadline in ms of each send and receive on the stream; default 30 s */
  timeout?: number
  /** told the bytes of every frame sent and received on the stream */
  onBytes?: (direction: 'sent' | 'received', bytes: number) => void
}
