import { createRequire } from 'node:module'
import { getSystemErrorMessage, getSystemErrorName } from 'node:util'

/**
 * The few system calls Node's `fs` lacks, bound from libc through `koffi` (an FFI library whose
 * prebuilt binary ships inside its package: no build step):
 *
 * - `utimensat` with `AT_SYMLINK_NOFOLLOW`: times to the nanosecond, on files, directories and
 *   symlinks alike (Node's `utimes` passes seconds as a double and loses nanoseconds);
 * - `llistxattr`, `lgetxattr`, `lsetxattr`: extended attributes (and so POSIX ACLs, which are the
 *   `system.posix_acl_*` attributes) without following symlinks;
 * - `mknod`: FIFOs and device nodes.
 *
 * Every path is a Buffer (a name is bytes, not necessarily UTF-8) or a string. Calls are
 * synchronous: each is one short system call, cheaper than a thread-pool round trip. A failure
 * throws an Error carrying `errno`, `code`, `syscall` and `path`, like `node:fs` does.
 *
 * Linux with glibc only (the platform drcore runs on). This module imports nothing of drcore.
 */

export type FsPath = string | Buffer

export interface SysError extends Error {
  errno: number
  code: string
  syscall: string
  path: string
}

const AT_FDCWD = -100
const AT_SYMLINK_NOFOLLOW = 0x100
const S_IFIFO = 0o010000
const S_IFCHR = 0o020000
const S_IFBLK = 0o060000
/** XATTR_LIST_MAX and XATTR_SIZE_MAX on Linux */
const XATTR_MAX = 64 * 1024

interface Libc {
  utimensat: (dirfd: number, path: Buffer, times: Buffer, flags: number) => number
  llistxattr: (path: Buffer, list: Buffer | null, size: number) => number
  lgetxattr: (path: Buffer, name: Buffer, value: Buffer | null, size: number) => number
  lsetxattr: (path: Buffer, name: Buffer, value: Buffer, size: number, flags: number) => number
  mknod: (path: Buffer, mode: number, dev: bigint) => number
  errno: () => number
}

let libc: Libc | undefined

function bind (): Libc {
  if (libc !== undefined) return libc
  // loaded on first use: only backup and restore need it, and a CLI command that only talks to
  // the daemon should not pay for it
  const koffi = createRequire(import.meta.url)('koffi')
  const lib = koffi.load('libc.so.6')
  libc = {
    utimensat: lib.func('int utimensat(int dirfd, void *path, void *times, int flags)'),
    llistxattr: lib.func('long llistxattr(void *path, void *list, size_t size)'),
    lgetxattr: lib.func('long lgetxattr(void *path, void *name, void *value, size_t size)'),
    lsetxattr: lib.func('int lsetxattr(void *path, void *name, void *value, size_t size, int flags)'),
    mknod: lib.func('int mknod(void *path, uint32_t mode, uint64_t dev)'),
    errno: () => koffi.errno()
  }
  return libc
}

/** A NUL-terminated copy of a path or name for C. */
function cString (value: FsPath): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value
  const out = Buffer.allocUnsafe(bytes.length + 1)
  out.set(bytes)
  out[bytes.length] = 0
  return out
}

function fail (syscall: string, path: FsPath, errno: number): never {
  const shown = typeof path === 'string' ? path : path.toString('utf8')
  let code = `E${errno}`
  let message = `error ${errno}`
  try {
    code = getSystemErrorName(-errno)
    message = getSystemErrorMessage(-errno)
  } catch {}
  const err = new Error(`${code}: ${message}, ${syscall} '${shown}'`) as SysError
  err.errno = -errno
  err.code = code
  err.syscall = syscall
  err.path = shown
  throw err
}

/**
 * Sets a path's access and modification times to the nanosecond, never following a symlink.
 * Times are [seconds, nanoseconds] since the epoch.
 */
export function lutimesNs (path: FsPath, atime: readonly [number, number], mtime: readonly [number, number]): void {
  const c = bind()
  const times = Buffer.alloc(32)
  times.writeBigInt64LE(BigInt(atime[0]), 0)
  times.writeBigInt64LE(BigInt(atime[1]), 8)
  times.writeBigInt64LE(BigInt(mtime[0]), 16)
  times.writeBigInt64LE(BigInt(mtime[1]), 24)
  if (c.utimensat(AT_FDCWD, cString(path), times, AT_SYMLINK_NOFOLLOW) !== 0) fail('utimensat', path, c.errno())
}

/**
 * The names of a path's extended attributes (not following a symlink), as the kernel lists them
 * to this process: `trusted.*` only to root. A file system without extended attributes has none.
 */
export function listXattrs (path: FsPath): Buffer[] {
  const c = bind()
  const p = cString(path)
  for (let attempt = 0; ; attempt++) {
    const size = c.llistxattr(p, null, 0)
    if (size < 0) {
      const errno = c.errno()
      if (errno === ENOTSUP) return []
      fail('llistxattr', path, errno)
    }
    if (size === 0) return []
    const list = Buffer.alloc(Math.min(size, XATTR_MAX))
    const got = c.llistxattr(p, list, list.length)
    if (got < 0) {
      const errno = c.errno()
      // the list grew between the two calls: ask again
      if (errno === ERANGE && attempt < 3) continue
      fail('llistxattr', path, errno)
    }
    const names: Buffer[] = []
    let start = 0
    for (let i = 0; i < got; i++) {
      if (list[i] !== 0) continue
      if (i > start) names.push(list.subarray(start, i))
      start = i + 1
    }
    return names
  }
}

/**
 * The value of one extended attribute (not following a symlink); undefined when it is gone
 * (removed since it was listed).
 */
export function getXattr (path: FsPath, name: FsPath): Buffer | undefined {
  const c = bind()
  const p = cString(path)
  const n = cString(name)
  for (let attempt = 0; ; attempt++) {
    const size = c.lgetxattr(p, n, null, 0)
    if (size < 0) {
      const errno = c.errno()
      if (errno === ENODATA) return undefined
      fail('lgetxattr', path, errno)
    }
    const value = Buffer.alloc(size)
    if (size === 0) return value
    const got = c.lgetxattr(p, n, value, size)
    if (got < 0) {
      const errno = c.errno()
      if (errno === ENODATA) return undefined
      if (errno === ERANGE && attempt < 3) continue
      fail('lgetxattr', path, errno)
    }
    return value.subarray(0, got)
  }
}

/** Sets (creates or replaces) an extended attribute, not following a symlink. */
export function setXattr (path: FsPath, name: FsPath, value: Uint8Array): void {
  const c = bind()
  const v = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  if (c.lsetxattr(cString(path), cString(name), v, v.length, 0) !== 0) fail('lsetxattr', path, c.errno())
}

export type SpecialKind = 'fifo' | 'char' | 'block'

/** Creates a FIFO or a device node with the given permission bits (the umask applies). */
export function mknod (path: FsPath, kind: SpecialKind, mode: number, rdev: readonly [number, number] = [0, 0]): void {
  const c = bind()
  const type = kind === 'fifo' ? S_IFIFO : kind === 'char' ? S_IFCHR : S_IFBLK
  const dev = kind === 'fifo' ? 0n : makedev(rdev[0], rdev[1])
  if (c.mknod(cString(path), type | (mode & 0o7777), dev) !== 0) fail('mknod', path, c.errno())
}

/** glibc's `makedev`: a device number from its major and minor numbers. */
export function makedev (major: number, minor: number): bigint {
  const ma = BigInt(major)
  const mi = BigInt(minor)
  return ((ma & 0xfffn) << 8n) | ((ma & 0xfffff000n) << 32n) | (mi & 0xffn) | ((mi & 0xffffff00n) << 12n)
}

/** glibc's `major` and `minor`: the two numbers of a device number (`st_rdev`). */
export function splitDev (dev: bigint | number): [number, number] {
  const d = BigInt(dev)
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & 0xfffff000n)
  const minor = (d & 0xffn) | ((d >> 12n) & 0xffffff00n)
  return [Number(major), Number(minor)]
}

const ENODATA = 61
const ERANGE = 34
const ENOTSUP = 95
