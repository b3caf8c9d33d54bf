import { NotAuthorizedError, UserError } from '../errors.ts'
import type { ErrorCode } from '../protocol/index.ts'

/** A peer could not be reached: no address, nothing listening, refused, or it closed on us. */
export class PeerUnreachableError extends UserError {
  override name = 'PeerUnreachableError'
  readonly peer: string
  constructor (peer: string, message: string) {
    super(message)
    this.peer = peer
  }
}

/** A peer did not answer, or stopped reading, within the deadline of an exchange. */
export class PeerTimeoutError extends UserError {
  override name = 'PeerTimeoutError'
  readonly peer: string
  constructor (peer: string, message: string) {
    super(message)
    this.peer = peer
  }
}

/** A stream ended (closed or reset by the peer) before the exchange was over. */
export class StreamEndedError extends UserError {
  override name = 'StreamEndedError'
  readonly peer: string
  constructor (peer: string, message: string) {
    super(message)
    this.peer = peer
  }
}

/** Too many pairing requests from one peer or address. */
export class RateLimitedError extends NotAuthorizedError {
  override name = 'RateLimitedError'
}

/**
 * The peer answered with an `error` message whose code has no more specific class here
 * (`malformed`, `corrupt-block`, `bad-signature`, `refused`, `internal`): the fault is on our
 * side or theirs, but the bytes we received were fine.
 */
export class RemoteError extends UserError {
  override name = 'RemoteError'
  readonly peer: string
  readonly code: ErrorCode
  constructor (peer: string, code: ErrorCode, message: string) {
    super(message)
    this.peer = peer
    this.code = code
  }
}
