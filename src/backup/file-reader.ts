import type { BigIntStats } from 'node:fs'
import type { CID } from 'multiformats/cid'
import { createChunker } from '../chunker/index.ts'
import type { ChunkerOptions } from '../chunker/api.ts'
import { RAW_CODE } from '../points/blocks.ts'
import { FileTreeBuilder } from '../points/file-tree.ts'
import type { TreeShape } from '../points/shape.ts'
import type { BlockWriter } from '../store/api.ts'
import type { Chunker } from '../chunker/api.ts'
import type { BackupFs, BackupSyncFs } from './fs.ts'

/** Large reads keep the disk streaming; 4 MiB also bounds what one read pins in memory. */
const READ_SIZE = 4 * 1024 * 1024
const MIN_READ_SIZE = 16 * 1024
/** Files up to this size (by their lstat) are read with synchronous calls into a reused buffer. */
export const SMALL_FILE_MAX = 1024 * 1024

export interface FileContent {
  root: CID
  /** bytes read, which are the bytes the content root holds */
  size: number
  /** stat taken through the open handle before reading: its mtime goes into the entry */
  stat: BigIntStats
  /** the file changed during both attempts to read it */
  changed: boolean
}

export interface ReadContext {
  fs: BackupFs
  writer: BlockWriter
  shape: TreeShape
  chunking: Partial<ChunkerOptions>
  /** called after each read with the bytes read, and for each new chunk with its size */
  onRead: (bytes: number) => void
  onNewChunk: (bytes: number) => void
  /** reads small files synchronously (the default file system only) */
  small?: SmallFileReader
}

/**
 * Reads small files the way restic does: open, fstat, one read into a buffer reused for every
 * file, fstat, close, all synchronous, then chunks with one reused chunker. No per-file buffers
 * or chunker scratch space are allocated; chunks are copied out of the shared buffer.
 */
export class SmallFileReader {
  readonly fs: BackupSyncFs
  /** one byte more than the largest small file, so a file that grew is noticed */
  readonly #buffer = new Uint8Array(SMALL_FILE_MAX + 1)
  readonly #chunker: Chunker

  constructor (fs: BackupSyncFs, chunking: Partial<ChunkerOptions>) {
    this.fs = fs
    this.#chunker = createChunker(chunking)
  }

  /**
   * One attempt: the file's chunks, its stat before reading and whether it changed while read;
   * undefined when it is (or has grown) larger than a small file.
   */
  read (path: Buffer): { chunks: Uint8Array[], size: number, stat: BigIntStats, changed: boolean } | undefined {
    const fd = this.fs.open(path)
    let size = 0
    let before: BigIntStats
    let after: BigIntStats
    try {
      before = this.fs.fstat(fd)
      if (before.size > BigInt(SMALL_FILE_MAX)) return undefined
      const buffer = this.#buffer
      for (;;) {
        const n = this.fs.read(fd, buffer, size, buffer.length - size)
        if (n === 0) break
        size += n
        if (size === buffer.length) return undefined
      }
      after = this.fs.fstat(fd)
    } finally {
      this.fs.close(fd)
    }
    // push() returns views of the shared buffer, which the next file overwrites: copy them
    const chunks: Uint8Array[] = []
    for (const chunk of this.#chunker.push(this.#buffer.subarray(0, size))) chunks.push(chunk.slice())
    for (const chunk of this.#chunker.finish()) chunks.push(chunk)
    const changed = after.size !== before.size || after.mtimeNs !== before.mtimeNs || after.ctimeNs !== before.ctimeNs || BigInt(size) !== before.size
    return { chunks, size, stat: before, changed }
  }
}

/**
 * Reads a regular file into chunks and file nodes. The file is read twice at most: when its size,
 * mtime or ctime differ after reading from before (or the bytes read differ from the size), it is read
 * again; if it changes again, what was read the second time is kept and reported as `changed`.
 * The stored content is always exactly the bytes read, so a file node never disagrees with its
 * chunks; the entry keeps the pre-read times, so the next incremental reads the file again.
 */
export async function readFileContent (ctx: ReadContext, path: Buffer, sizeHint?: number): Promise<FileContent> {
  let content: FileContent | undefined
  let small = ctx.small !== undefined && sizeHint !== undefined && sizeHint <= SMALL_FILE_MAX
  for (let attempt = 0; attempt < 2; attempt++) {
    content = small ? await readSmall(ctx, path) : undefined
    if (content === undefined) {
      small = false
      content = await readOnce(ctx, path)
    }
    if (!content.changed) return content
  }
  return content as FileContent
}

async function readSmall (ctx: ReadContext, path: Buffer): Promise<FileContent | undefined> {
  const read = (ctx.small as SmallFileReader).read(path)
  if (read === undefined) return undefined
  ctx.onRead(read.size)
  const tree = new FileTreeBuilder((cid, bytes) => ctx.writer.put(cid, bytes), ctx.shape)
  for (const chunk of read.chunks) {
    const { cid, added } = await ctx.writer.add(RAW_CODE, chunk)
    if (added) ctx.onNewChunk(chunk.length)
    await tree.addChunk(cid, chunk.length)
  }
  const { cid } = await tree.finish()
  return { root: cid, size: read.size, stat: read.stat, changed: read.changed }
}

async function readOnce (ctx: ReadContext, path: Buffer): Promise<FileContent> {
  const handle = await ctx.fs.open(path, 'r')
  let pending: Promise<Uint8Array> | undefined
  try {
    const before = await handle.stat({ bigint: true })
    const chunker = createChunker(ctx.chunking)
    const tree = new FileTreeBuilder((cid, bytes) => ctx.writer.put(cid, bytes), ctx.shape)
    const addChunk = async (chunk: Uint8Array): Promise<void> => {
      const { cid, added } = await ctx.writer.add(RAW_CODE, chunk)
      if (added) ctx.onNewChunk(chunk.length)
      await tree.addChunk(cid, chunk.length)
    }
    const bufferSize = Math.min(READ_SIZE, Math.max(MIN_READ_SIZE, Number(before.size) + 1))
    // Two buffers in turn: the next read is issued before the current one is chunked and hashed,
    // so disk and CPU overlap. The writer copies what it is given, so a buffer is free again once
    // its chunks are put.
    const buffers = [new Uint8Array(bufferSize), new Uint8Array(bufferSize)]
    let turn = 0
    const readNext = async (): Promise<Uint8Array> => {
      const buffer = buffers[turn]
      turn ^= 1
      const { bytesRead } = await handle.read(buffer, 0, bufferSize, null)
      return buffer.subarray(0, bytesRead)
    }
    let size = 0
    pending = readNext()
    for (;;) {
      const data = await pending
      if (data.length === 0) {
        pending = undefined
        break
      }
      pending = readNext()
      size += data.length
      ctx.onRead(data.length)
      for (const chunk of chunker.push(data)) await addChunk(chunk)
    }
    for (const chunk of chunker.finish()) await addChunk(chunk)
    const { cid } = await tree.finish()
    const after = await handle.stat({ bigint: true })
    const changed = after.size !== before.size || after.mtimeNs !== before.mtimeNs || after.ctimeNs !== before.ctimeNs || BigInt(size) !== before.size
    return { root: cid, size, stat: before, changed }
  } finally {
    // never close under a read still in flight (after an error in the store, say)
    await pending?.catch(() => {})
    await handle.close()
  }
}
