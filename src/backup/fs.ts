import * as nodeFs from 'node:fs/promises'
import { closeSync, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs'
import type { BigIntStats } from 'node:fs'

/** A readable file as backup uses it (a subset of `FileHandle`). */
export interface BackupFileHandle {
  read (buffer: Uint8Array, offset: number, length: number, position: number | null): Promise<{ bytesRead: number }>
  stat (opts: { bigint: true }): Promise<BigIntStats>
  close (): Promise<void>
}

/** The file system calls backup makes (a subset of `node:fs/promises`). */
export interface BackupFs {
  lstat (path: string, opts: { bigint: true }): Promise<BigIntStats>
  stat (path: string, opts: { bigint: true }): Promise<BigIntStats>
  readdir (path: string): Promise<string[]>
  readlink (path: string): Promise<string>
  open (path: string, flags: 'r'): Promise<BackupFileHandle>
}

export const nodeBackupFs: BackupFs = {
  lstat: async (path, opts) => await nodeFs.lstat(path, opts),
  stat: async (path, opts) => await nodeFs.stat(path, opts),
  readdir: async (path) => await nodeFs.readdir(path),
  readlink: async (path) => await nodeFs.readlink(path),
  open: async (path, flags) => await nodeFs.open(path, flags)
}

/**
 * The same calls, synchronous, for the walk and for small files. On a tree of small files an
 * asynchronous call costs a thread-pool round trip (tens of microseconds of CPU on a busy
 * 2-core machine) for a few microseconds of work in the kernel; measured on a copy of
 * /usr/share (46k files), the walk plus open/stat/read/stat/close took 27 s asynchronously and
 * 2 s synchronously. Backup uses these with the default file system only.
 */
export interface BackupSyncFs {
  lstat (path: string): BigIntStats
  readdir (path: string): string[]
  readlink (path: string): string
  open (path: string): number
  fstat (fd: number): BigIntStats
  read (fd: number, buffer: Uint8Array, offset: number, length: number): number
  close (fd: number): void
}

export const nodeBackupSyncFs: BackupSyncFs = {
  lstat: (path) => lstatSync(path, { bigint: true }),
  readdir: (path) => readdirSync(path),
  readlink: (path) => readlinkSync(path),
  open: (path) => openSync(path, 'r'),
  fstat: (fd) => fstatSync(fd, { bigint: true }),
  read: (fd, buffer, offset, length) => readSync(fd, buffer, offset, length, null),
  close: (fd) => closeSync(fd)
}

/** An error from a file system call (as opposed to the store or a bug). */
export function isFsError (err: unknown): err is NodeJS.ErrnoException {
  return typeof (err as any)?.code === 'string' && typeof (err as any)?.syscall === 'string'
}

/** [seconds, nanoseconds] from a bigint stat. */
export function mtimeOf (st: BigIntStats): [number, number] {
  let seconds = st.mtimeNs / 1_000_000_000n
  let nanos = st.mtimeNs % 1_000_000_000n
  if (nanos < 0n) {
    nanos += 1_000_000_000n
    seconds -= 1n
  }
  return [Number(seconds), Number(nanos)]
}
