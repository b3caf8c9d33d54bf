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
  ENOENT: { reason: 'no such file or directory' },
  ENOTDIR: { reason: 'not a directory' },
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
export class FileSystemError extends UserError {
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
 * An error that escaped an operation, as the operator should read it: a `UserError` as it is;
 * LevelDB's I/O errors, and Node's for a full or failing disk or a permission, as a
 * `FileSystemError` naming the path when the error carries one; anything else (a bug) as
 * undefined.
 */
export function asUserError (err: unknown): UserError | undefined {
  if (err instanceof UserError) return err
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
