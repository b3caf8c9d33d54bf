/**
 * Named error classes. Every failure drcore expects is an `ExpectedError`: the CLI prints its
 * message as one line, without a stack, and exits with `exitCode`; the HTTP API answers with the
 * status of its `kind`. Anything else is a bug and is printed with its stack.
 *
 * Expected failures come in two families (docs/architecture.md, "Errors"):
 * - a `UserError` is the operator's to fix by asking differently: bad input, a refusal of what
 *   the Core's state does not allow, something that does not exist, a peer not allowed;
 * - an `OperationalError` is the machine's, the data's or a peer's: a full or failing disk,
 *   damaged data, a peer that cannot be reached or does not answer in time. Asking again the
 *   same way may work later (after freeing space, repairing, the peer coming back).
 * Code that means one family catches that class; code that means "anything expected" uses
 * `isExpectedError`. A place that needs one particular failure catches its own class (the
 * scheduler: `RuleNotFoundError`), never a base class.
 */

/** What kind of failure an expected error is; the HTTP status follows from it (http/api.ts). */
export type ErrorKind = UserErrorKind | OperationalErrorKind

/**
 * - `bad-input`: the request does not parse or names something invalid (a peer id, a name, a window)
 * - `refused`: a valid request this Core's state does not allow (a paused rule, a locked or
 *   existing repository, an operation that needs the running Core)
 * - `not-found`: it names something that does not exist here
 * - `not-authorized`: a peer (or client) is not allowed to do it
 */
export type UserErrorKind = 'bad-input' | 'refused' | 'not-found' | 'not-authorized'

/**
 * - `damaged`: data that does not verify or decode (a corrupt or missing block, a bad signature,
 *   malformed bytes on the wire or in a file)
 * - `operational`: the machine failed (I/O error, disk full, permissions, a repository format it cannot read)
 * - `unavailable`: a peer cannot be reached, ended the exchange, failed on its side or does not
 *   serve the protocol; or this Core is stopping
 * - `timeout`: a peer did not answer within the deadline
 * - `rate-limited`: a peer limits how often it may be asked (pairing requests); later works
 */
export type OperationalErrorKind = 'damaged' | 'operational' | 'unavailable' | 'timeout' | 'rate-limited'

/** A failure drcore expects: told in one line, never with a stack. */
export abstract class ExpectedError extends Error {
  abstract readonly kind: ErrorKind
  exitCode = 1
}

/** The operator's to fix: bad input, a refusal, something unknown, a peer not allowed. Exit 1. */
export class UserError extends ExpectedError {
  override name = 'UserError'
  readonly kind: UserErrorKind = 'refused'
}

/** The machine's, the data's or a peer's: I/O, damage, peers unreachable or late. Exit 1. */
export class OperationalError extends ExpectedError {
  override name = 'OperationalError'
  readonly kind: OperationalErrorKind = 'operational'
}

/** Wrong command-line usage: exit 2. */
export class UsageError extends UserError {
  override name = 'UsageError'
  override readonly kind = 'bad-input'
  override exitCode = 2
}

/** A value that does not parse or is not allowed (a name, a peer id, an address, a window). Exit 1. */
export class InvalidInputError extends UserError {
  override name = 'InvalidInputError'
  override readonly kind = 'bad-input'
}

export class RepositoryNotFoundError extends UserError {
  override name = 'RepositoryNotFoundError'
  override readonly kind = 'not-found'
}

export class RepositoryExistsError extends UserError {
  override name = 'RepositoryExistsError'
}

/** Another process (usually the daemon) holds the repository's lock. */
export class RepositoryLockedError extends UserError {
  override name = 'RepositoryLockedError'
}

/** A block's bytes do not hash to its CID. */
export class CorruptBlockError extends OperationalError {
  override name = 'CorruptBlockError'
  override readonly kind = 'damaged'
  readonly cid: string
  /** what is wrong with it */
  readonly detail: string
  constructor (cid: string, detail = 'its bytes do not match its hash') {
    super(`block ${cid} is corrupt: ${detail}`)
    this.cid = cid
    this.detail = detail
  }
}

/** A block is not in this repository (or not visible to the asking tenant): the data that needs it is incomplete. */
export class MissingBlockError extends OperationalError {
  override name = 'MissingBlockError'
  override readonly kind = 'damaged'
  readonly cid: string
  constructor (cid: string) {
    super(`block ${cid} is not in the repository`)
    this.cid = cid
  }
}

/** A recovery-point manifest whose signature does not verify against its origin's key. */
export class BadSignatureError extends OperationalError {
  override name = 'BadSignatureError'
  override readonly kind = 'damaged'
}

export class NotFoundError extends UserError {
  override name = 'NotFoundError'
  override readonly kind = 'not-found'
}

/** A peer is not allowed to do what it asked. */
export class NotAuthorizedError extends UserError {
  override name = 'NotAuthorizedError'
  override readonly kind = 'not-authorized'
}

/** Bytes on the wire or in a file that do not decode. */
export class MalformedError extends OperationalError {
  override name = 'MalformedError'
  override readonly kind = 'damaged'
}

/** An operation that would be unsafe on an orphan (e.g. volume-level restore). */
export class OrphanPointError extends UserError {
  override name = 'OrphanPointError'
}

/** This Core is stopping: what was asked of it will not happen now. */
export class StoppingError extends OperationalError {
  override name = 'StoppingError'
  override readonly kind = 'unavailable'
}

export function isExpectedError (err: unknown): err is ExpectedError {
  return err instanceof ExpectedError
}

/** What went wrong with a file-system call, in words, and what the operator can do about it. */
interface FileSystemFault {
  /** the errno name: ENOSPC, EIO, ... */
  code: string
  /** "no space left on device" */
  reason: string
  /** "free space and run the command again" */
  advice: string | undefined
}

const OUT_OF_SPACE = new Set(['ENOSPC', 'EDQUOT'])
/** Faults of the machine, not of drcore: the operator can act on them whatever path they hit. */
const ENVIRONMENT_FAULTS = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EACCES', 'EPERM', 'EROFS', 'EMFILE', 'ENFILE'])
const RETRY_WITH_SPACE = 'free space and run the command again'
const FAULTS: Record<string, { reason: string, advice?: string }> = {
  ENOSPC: { reason: 'no space left on device', advice: RETRY_WITH_SPACE },
  EDQUOT: { reason: 'disk quota exceeded', advice: RETRY_WITH_SPACE },
  EIO: { reason: 'i/o error', advice: 'the disk may be failing: check it (dmesg) before trying again' },
  EACCES: { reason: 'permission denied', advice: 'check the permissions of the path' },
  EPERM: { reason: 'operation not permitted', advice: 'check the permissions of the path' },
  EROFS: { reason: 'read-only file system', advice: 'mount it writable and run the command again' },
  ENOENT: { reason: 'no such file or directory', advice: 'a folder on the way is missing and cannot be made there (a system folder such as /proc, or one removed meanwhile): choose a path on a writable disk' },
  ENOTDIR: { reason: 'not a directory', advice: 'a part of the path is a file, not a folder: choose another path' },
  EISDIR: { reason: 'is a directory' },
  EEXIST: { reason: 'file already exists' },
  EMFILE: { reason: 'too many open files', advice: 'raise the limit (ulimit -n) and run the command again' },
  ENFILE: { reason: 'too many open files in the system' }
}
/** LevelDB's words for the same faults ("IO error: <path>: No space left on device"). */
const LEVEL_REASONS: Record<string, string> = {
  'no space left on device': 'ENOSPC',
  'disk quota exceeded': 'EDQUOT',
  'input/output error': 'EIO',
  'permission denied': 'EACCES',
  'operation not permitted': 'EPERM',
  'read-only file system': 'EROFS',
  'too many open files': 'EMFILE'
}

/**
 * A file-system call failed on a path the operator can act on: a full disk, an I/O error, a
 * permission. The message is one line: what went wrong, doing what to which path, and what to do
 * (`no space left on device writing pack /repo/packs/00000003.pack; free space and run the
 * command again`).
 */
export class FileSystemError extends OperationalError {
  override name = 'FileSystemError'
  /** the errno name (ENOSPC, EIO, ...), when the cause had one */
  readonly code: string | undefined
  /** "no space left on device", when the cause was a known fault */
  readonly reason: string | undefined
  readonly path: string
  /** what was being done to `path`: "writing pack" */
  readonly doing: string
  /** the failure without note or advice: "no space left on device writing pack /repo/packs/00000003.pack" */
  readonly summary: string

  /** `doing`: what was being done to `path` ("writing pack"); `note`: what became of the work */
  constructor (doing: string, path: string, cause: unknown, note?: string) {
    const fault = fileSystemFault(cause)
    const what = path === '' ? doing : `${doing} ${path}`
    const summary = fault === undefined ? `failed ${what}: ${oneLine(cause)}` : `${fault.reason} ${what}`
    super([summary, note, fault?.advice].filter(p => p !== undefined && p !== '').join('; '), { cause })
    this.summary = summary
    this.code = fault?.code
    this.reason = fault?.reason
    this.path = path
    this.doing = doing
  }

  /** The same failure, told with what became of the work ("the parts written so far were removed"). */
  withNote (note: string): FileSystemError {
    return new FileSystemError(this.doing, this.path, this.cause, note)
  }

  /** the disk (or quota) is full: freeing space is what it takes */
  get outOfSpace (): boolean {
    return this.code !== undefined && OUT_OF_SPACE.has(this.code)
  }

  /** The failure as told to a peer: what happened here and what became of its transfer, without this Core's paths. */
  get forPeer (): string {
    return this.outOfSpace
      ? `${this.reason ?? 'no space left on device'} on its disk: it keeps what it stored and takes the rest once space is freed there`
      : `its storage failed (${this.reason ?? 'a file-system error'}): it keeps what it stored; its log has the details`
  }
}

/** An error of the operating system as Node reports it (`code` ENOSPC, `errno`, `syscall`). */
export function isSystemError (err: unknown): err is NodeJS.ErrnoException {
  const e = err as NodeJS.ErrnoException | undefined
  return e instanceof Error && typeof e.code === 'string' && typeof e.errno === 'number'
}

/** The fault behind an error from Node's fs calls or from LevelDB, if it is a file-system one. */
export function fileSystemFault (err: unknown): FileSystemFault | undefined {
  const code = isSystemError(err) ? err.code as string : levelIoFailure(err)?.code
  if (code === undefined) return undefined
  const known = FAULTS[code]
  if (known !== undefined) return { code, reason: known.reason, advice: known.advice }
  // "EXDEV: cross-device link not permitted, rename ..." -> "cross-device link not permitted"
  const words = /^[A-Z0-9]+: ([^,]+)/.exec((err as Error).message)?.[1]
  return { code, reason: words ?? code, advice: undefined }
}

/** LevelDB's "IO error: <file>: No space left on device" (classic-level code LEVEL_IO_ERROR), for the faults it names. */
function levelIoFailure (err: unknown): { file: string, code: string } | undefined {
  // abstract-level wraps what failed an open: "Database failed to open", its cause the IO error
  if (err instanceof Error && (err as { code?: unknown }).code === 'LEVEL_DATABASE_NOT_OPEN') return levelIoFailure(err.cause)
  if (!(err instanceof Error) || (err as { code?: unknown }).code !== 'LEVEL_IO_ERROR') return undefined
  const m = /^IO error: (.+): ([^:]+)$/.exec(err.message.trim())
  const code = m === null ? undefined : LEVEL_REASONS[m[2].toLowerCase()]
  return code === undefined ? undefined : { file: m![1], code }
}

/**
 * An error that escaped an operation, as the operator should read it: an `ExpectedError` as it
 * is; LevelDB's I/O errors, and Node's for a full or failing disk or a permission, as a
 * `FileSystemError` naming the path when the error carries one; anything else (a bug) as
 * undefined.
 */
export function asExpectedError (err: unknown): ExpectedError | undefined {
  if (err instanceof ExpectedError) return err
  const level = levelIoFailure(err)
  if (level !== undefined) return new FileSystemError(OUT_OF_SPACE.has(level.code) ? 'writing index file' : 'using index file', level.file, err)
  // "no space left on device at open /srv/x; free space and run the command again"; an ENOENT
  // or EEXIST that gets this far is more likely a bug than the machine's fault: keep its stack
  if (isSystemError(err) && ENVIRONMENT_FAULTS.has(err.code as string)) return new FileSystemError(`at ${err.syscall ?? 'a file-system call'}`, err.path ?? '', err)
  return undefined
}

function oneLine (err: unknown): string {
  const text = err instanceof Error ? err.message : String(err)
  return text.replace(/\s+/g, ' ').trim()
}

/**
 * An error's message with its causes', on one line: LevelDB and abstract-level wrap the reason
 * (a full disk, an I/O error) in `cause` ("The prewrite hook failed on batch(): No space left on device").
 */
export function messageWithCauses (err: unknown): string {
  const parts: string[] = []
  for (let e: unknown = err; e != null && parts.length < 4; e = e instanceof Error ? e.cause : undefined) {
    parts.push(oneLine(e))
  }
  return parts.join(': ')
}
