import { open, rename, rm } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { FileSystemError } from '../errors.ts'
import { PARTIAL_SUFFIX, WRITE_BATCH, WRITE_BUFFERS } from './constants.ts'

/**
 * One part file being written: appended in large batches under a `.partial` name, synced, then
 * renamed to its final name, so a file with the final name is always a whole part. A failing
 * call (a full drive) is a `FileSystemError` naming the part.
 */
export class PartFile {
  readonly path: string
  readonly #handle: FileHandle
  #pending: Uint8Array[] = []
  #pendingBytes = 0
  #size = 0

  private constructor (path: string, handle: FileHandle) {
    this.path = path
    this.#handle = handle
  }

  /** Creates `<path>.partial`; fails when it exists. */
  static async create (path: string): Promise<PartFile> {
    return new PartFile(path, await writing(path, open(path + PARTIAL_SUFFIX, 'wx')))
  }

  get size (): number {
    return this.#size + this.#pendingBytes
  }

  async append (bytes: Uint8Array): Promise<void> {
    this.#pending.push(bytes)
    this.#pendingBytes += bytes.length
    if (this.#pendingBytes >= WRITE_BATCH || this.#pending.length >= WRITE_BUFFERS) await this.#flush()
  }

  /** Writes what is buffered, syncs, closes and renames the file to its final name. */
  async finish (): Promise<number> {
    await this.#flush()
    await writing(this.path, this.#handle.datasync())
    await writing(this.path, this.#handle.close())
    await writing(this.path, rename(this.path + PARTIAL_SUFFIX, this.path))
    return this.#size
  }

  /** Closes and removes the file, under either name. */
  async discard (): Promise<void> {
    await this.#handle.close().catch(() => {})
    await rm(this.path + PARTIAL_SUFFIX, { force: true })
    await rm(this.path, { force: true })
  }

  async #flush (): Promise<void> {
    if (this.#pendingBytes === 0) return
    let buffers = this.#pending
    let remaining = this.#pendingBytes
    this.#pending = []
    this.#pendingBytes = 0
    // one vectored write per batch, no copy; a short write goes on from where it stopped
    while (remaining > 0) {
      const { bytesWritten } = await writing(this.path, this.#handle.writev(buffers, this.#size))
      if (bytesWritten <= 0) throw new FileSystemError('writing seed part', this.path, new Error(`the file system wrote nothing at byte ${this.#size}`))
      this.#size += bytesWritten
      remaining -= bytesWritten
      if (remaining > 0) buffers = [Buffer.concat(buffers).subarray(bytesWritten)]
    }
  }
}

async function writing<T> (path: string, call: Promise<T>): Promise<T> {
  try {
    return await call
  } catch (err) {
    throw new FileSystemError('writing seed part', path, err)
  }
}
