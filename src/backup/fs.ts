import * as nodeFs from 'node:fs/promises'
import { closeSync, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs'
import type { BigIntStats } from 'node:fs'
import { getXattr, listXattrs } from '../fsx/index.ts'

/** A readable file as backup uses it (a subset of `FileHandle`). */
export interface BackupFileHandle {
  read (buffer: Uint8Array, offset: number, length: number, position: number | null): Promise<{ bytesRead: number }>
  stat (opts: { bigint: true }): Promise<BigIntStats>
  close (): Promise<void>
}

/**
 * The file system calls backup makes (a subset of `node:fs/promises`). Paths below a volume's
 * root are Buffers: a name is whatever bytes the file system holds, not necessarily UTF-8.
 */
export interface BackupFs {
  lstat (path: Buffer, opts: { bigint: true }): Promise<BigIntStats>
  /** a volume's root, as given (followed if a symlink) */
  stat (path: string, opts: { bigint: true }): Promise<BigIntStats>
  readdir (path: Buffer): Promise<Buffer[]>
  readlink (path: Buffer): Promise<Buffer>
  open (path: Buffer, flags: 'r'): Promise<BackupFileHandle>
  /**
   * A path's extended attributes (not following a symlink) as [name, value] bytes, in any order;
   * empty when there are none or the file system has none. Synchronous: each is a short system
   * call (src/fsx).
   */
  xattrs (path: Buffer): Array<[Buffer, Buffer]>
}

/** Every extended attribute of a path, read with `llistxattr` and `lgetxattr`. */
export function readXattrs (path: Buffer): Array<[Buffer, Buffer]> {
  const out: Array<[Buffer, Buffer]> = []
  for (const name of listXattrs(path)) {
    const value = getXattr(path, name)
    if (value !== undefined) out.push([name, value])
  }
  return out
}

export const nodeBackupFs: BackupFs = {
  lstat: async (path, opts) => await nodeFs.lstat(path, opts),
  stat: async (path, opts) => await nodeFs.stat(path, opts),
  readdir: async (path) => await nodeFs.readdir(path, { encoding: 'buffer' }),
  readlink: async (path) => await nodeFs.readlink(path, { encoding: 'buffer' }),
  open: async (path, flags) => await nodeFs.open(path, flags),
  xattrs: readXattrs
}

/**
 * The same calls, synchronous, for the walk and for small files. On a tree of small files an
 * asynchronous call costs a thread-pool round trip (tens of microseconds of CPU on a busy
 * 2-core machine) for a few microseconds of work in the kernel; measured on a copy of
 * /usr/share (46k files), the walk plus open/stat/read/stat/close took 27 s asynchronously and
 * 2 s synchronously. Backup uses these with the default file system only.
 */
export interface BackupSyncFs {
  lstat (path: Buffer): BigIntStats
  readdir (path: Buffer): Buffer[]
  readlink (path: Buffer): Buffer
  open (path: Buffer): number
  fstat (fd: number): BigIntStats
  read (fd: number, buffer: Uint8Array, offset: number, length: number): number
  close (fd: number): void
}

export const nodeBackupSyncFs: BackupSyncFs = {
  lstat: (path) => lstatSync(path, { bigint: true }),
  readdir: (path) => readdirSync(path, { encoding: 'buffer' }),
  readlink: (path) => readlinkSync(path, { encoding: 'buffer' }),
  open: (path) => openSync(path, 'r'),
  fstat: (fd) => fstatSync(fd, { bigint: true }),
  read: (fd, buffer, offset, length) => readSync(fd, buffer, offset, length, null),
  close: (fd) => closeSync(fd)
}

/** An error from a file system call (as opposed to the store or a bug). */
export function isFsError (err: unknown): err is NodeJS.ErrnoException {
  return typeof (err as any)?.code === 'string' && typeof (err as any)?.syscall === 'string'
}

/** [seconds, nanoseconds] of a bigint time in nanoseconds. */
export function timeOf (ns: bigint): [number, number] {
  let seconds = ns / 1_000_000_000n
  let nanos = ns % 1_000_000_000n
  if (nanos < 0n) {
    nanos += 1_000_000_000n
    seconds -= 1n
  }
  return [Number(seconds), Number(nanos)]
}

/** [seconds, nanoseconds] of a bigint stat's mtime. */
export function mtimeOf (st: BigIntStats): [number, number] {
  return timeOf(st.mtimeNs)
}

/** [seconds, nanoseconds] of a bigint stat's ctime. */
export function ctimeOf (st: BigIntStats): [number, number] {
  return timeOf(st.ctimeNs)
}
