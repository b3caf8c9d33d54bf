/**
 * A small tmpfs for tests of a full disk: the kernel's own ENOSPC, at a size the test picks.
 * Mounting needs root (CI runs as root). Unmount in `finally`, whatever happened.
 */
import { execFile } from 'node:child_process'
import { mkdir, rm, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** Whether this process may mount a tmpfs (it is root). */
export const canMount = process.getuid?.() === 0

export class Tmpfs {
  readonly dir: string
  readonly #filler: string
  #mounted = true

  private constructor (dir: string) {
    this.dir = dir
    this.#filler = join(dir, '.filler')
  }

  /** Mounts a tmpfs of `bytes` on `dir` (created when missing). */
  static async mount (dir: string, bytes: number): Promise<Tmpfs> {
    await mkdir(dir, { recursive: true })
    await run('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir])
    return new Tmpfs(dir)
  }

  /** Bytes still free. */
  async free (): Promise<number> {
    const s = await statfs(this.dir)
    return s.bavail * s.bsize
  }

  /** Bytes in use. */
  async used (): Promise<number> {
    const s = await statfs(this.dir)
    return (s.blocks - s.bfree) * s.bsize
  }

  /** Takes all but `bytes` of the free space with a filler file, as other data on a disk would. */
  async fillLeaving (bytes: number): Promise<void> {
    const take = (await this.free()) - bytes
    if (take <= 0) throw new Error(`${this.dir} has less than ${bytes} bytes free already`)
    await run('fallocate', ['-l', String(take), this.#filler])
  }

  /** Frees the space the filler took: what an operator does after a "no space left" error. */
  async removeFiller (): Promise<void> {
    await rm(this.#filler, { force: true })
  }

  /** Unmounts (lazily when something still holds a file open); safe to call twice. */
  async unmount (): Promise<void> {
    if (!this.#mounted) return
    this.#mounted = false
    try {
      await run('umount', [this.dir])
    } catch {
      await run('umount', ['-l', this.dir])
    }
  }
}
