import { OperationalError } from '../errors.ts'
import type { ErrorCode } from '../protocol/index.ts'

/** A peer could not be reached: no address, nothing listening, refused, or it closed on us. */
export class PeerUnreachableError extends OperationalError {
  override name = 'PeerUnreachableError'
  override readonly kind = 'unavailable'
  readonly peer: string
  constructor (peer: string, message: string) {
    super(message)
    this.peer = peer
  }
}

/** A peer did not answer, or stopped reading, within the deadline of an exchange. */
export class PeerTimeoutError extends OperationalError {
  override name = 'PeerTimeoutError'
  override readonly kind = 'timeout'
  readonly peer: string
  constructor (peer: string, message: string) {
    super(message)
    this.peer = peer
  }
}

/** A stream ended (closed or reset by the peer) before the exchange was over. */
export class StreamEndedError extends OperationalError {
  override name = 'StreamEndedError'
  override readonly kind = 'unavailable'
  readonly peer: string
  constructor (peer: string, message: string) {
    super(message)
    this.peer = peer
  }
}

/**
 * Too many pairing requests from one peer or address: the peer's limit, not a refusal; asking
 * again later works (HTTP 429).
 */
export class RateLimitedError extends OperationalError {
  override name = 'RateLimitedError'
  override readonly kind = 'rate-limited'
}

/**
 * The peer answered with an `error` message whose code has no more specific class here
 * (`malformed`, `corrupt-block`, `bad-signature`, `refused`, `internal`): the fault is on our
 * side or theirs, but the bytes we received were fine. For this Core's operator the peer could
 * not do it: `unavailable`.
 */
export class RemoteError extends OperationalError {
  override name = 'RemoteError'
  override readonly kind = 'unavailable'
  readonly peer: string
  readonly code: ErrorCode
  constructor (peer: string, code: ErrorCode, message: string) {
    super(message)
    this.peer = peer
    this.code = code
  }
}

/**
 * The peer does not serve the protocol drcore asked for (libp2p's protocol negotiation failed
 * with `UnsupportedProtocolError`): an older or other program, or a Core without that service.
 * Callers that can do without it (repair asks every peer) tell it from a refusal by its class.
 */
export class ProtocolNotServedError extends OperationalError {
  override name = 'ProtocolNotServedError'
  override readonly kind = 'unavailable'
  readonly peer: string
  readonly protocol: string
  constructor (peer: string, protocol: string) {
    super(`peer ${peer} does not serve ${protocol} (is it a drcore Core of a compatible version?)`)
    this.peer = peer
    this.protocol = protocol
  }
}
