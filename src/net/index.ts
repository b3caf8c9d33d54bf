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
export { createNode, DrcoreNode } from './node.ts'
export { WireStream, errorFromWire, errorToWire, DEFAULT_EXCHANGE_TIMEOUT } from './wire-stream.ts'
export type { WireStreamOptions } from './wire-stream.ts'
export { FrameReader, FrameWriter } from './frames.ts'
export { RateLimiter } from './rate-limit.ts'
export { ListenError } from './listen-error.ts'
export { PeerUnreachableError, PeerTimeoutError, ProtocolNotServedError, RateLimitedError, RemoteError, StreamEndedError } from './errors.ts'
export type { PeerTrust, NodeOptions, HandlerContext, ProtocolHandler, HandleOptions, OpenOptions } from './api.ts'
