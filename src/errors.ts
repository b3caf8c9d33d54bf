/**
 * Named error classes. A `UserError` is something the operator can act on: the CLI prints its
 * message as one line, without a stack, and exits with `exitCode`. Anything else is a bug and is
 * printed with its stack.
 */
export class UserError extends Error {
  override name = 'UserError'
  exitCode = 1
}

/** Wrong command-line usage: exit 2. */
export class UsageError extends UserError {
  override name = 'UsageError'
  override exitCode = 2
}

export class RepositoryNotFoundError extends UserError {
  override name = 'RepositoryNotFoundError'
}

export class RepositoryExistsError extends UserError {
  override name = 'RepositoryExistsError'
}

/** Another process (usually the daemon) holds the repository's lock. */
export class RepositoryLockedError extends UserError {
  override name = 'RepositoryLockedError'
}

/** A block's bytes do not hash to its CID. */
export class CorruptBlockError extends UserError {
  override name = 'CorruptBlockError'
  readonly cid: string
  /** what is wrong with it */
  readonly detail: string
  constructor (cid: string, detail = 'its bytes do not match its hash') {
    super(`block ${cid} is corrupt: ${detail}`)
    this.cid = cid
    this.detail = detail
  }
}

/** A block is not in this repository (or not visible to the asking tenant). */
export class MissingBlockError extends UserError {
  override name = 'MissingBlockError'
  readonly cid: string
  constructor (cid: string) {
    super(`block ${cid} is not in the repository`)
    this.cid = cid
  }
}

/** A recovery-point manifest whose signature does not verify against its origin's key. */
export class BadSignatureError extends UserError {
  override name = 'BadSignatureError'
}

export class NotFoundError extends UserError {
  override name = 'NotFoundError'
}

/** A peer is not allowed to do what it asked. */
export class NotAuthorizedError extends UserError {
  override name = 'NotAuthorizedError'
}

/** Bytes on the wire or in a file that do not decode. */
export class MalformedError extends UserError {
  override name = 'MalformedError'
}

/** An operation that would be unsafe on an orphan (e.g. volume-level restore). */
export class OrphanPointError extends UserError {
  override name = 'OrphanPointError'
}

export function isUserError (err: unknown): err is UserError {
  return err instanceof UserError
}
