import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { asExpectedError, FileSystemError } from '../src/errors.ts'
import { removeDir, tempDir } from './support/dirs.ts'
import { canMount, Tmpfs } from './helpers/tmpfs.ts'

const MiB = 1024 * 1024

/** What the kernel and LevelDB really say when a disk is full, as the operator reads it. */
describe('file-system failures as one line', { timeout: 60_000, skip: canMount ? false : 'needs root to mount a tmpfs' }, () => {
  let work: string
  let fs: Tmpfs
  before(async () => {
    work = await tempDir('drcore-errors-')
    fs = await Tmpfs.mount(join(work, 'small'), 4 * MiB)
  })
  after(async () => {
    await fs?.unmount()
    await removeDir(work)
  })

  it("turns Node's ENOSPC into 'no space left on device …; free space and run the command again'", async () => {
    await fs.fillLeaving(64 * 1024)
    const handle = await open(join(fs.dir, 'big'), 'w')
    let failure: unknown
    try {
      for (let i = 0; i < 64; i++) await handle.write(Buffer.alloc(64 * 1024, i))
    } catch (err) {
      failure = err
    } finally {
      await handle.close()
      await fs.removeFiller()
    }
    const err = asExpectedError(failure)
    assert.ok(err instanceof FileSystemError && err.outOfSpace)
    assert.equal(err.message, 'no space left on device at write; free space and run the command again')
    assert.match(err.forPeer, /^no space left on device on its disk: /)
    assert.doesNotMatch(err.forPeer, new RegExp(fs.dir), 'a peer is not told our paths')
  })

  it("turns LevelDB's 'IO error: …: No space left on device' into a line naming the index file", async () => {
    const db = new Level<string, string>(join(fs.dir, 'index'))
    await db.open()
    await fs.fillLeaving(16 * 1024)
    let failure: unknown
    try {
      for (let i = 0; i < 256; i++) await db.put(`k${i}`, 'v'.repeat(64 * 1024), { sync: true })
    } catch (err) {
      failure = err
    } finally {
      await fs.removeFiller()
      await db.close().catch(() => {})
    }
    const err = asExpectedError(failure)
    assert.ok(err instanceof FileSystemError, `a FileSystemError, not ${String(failure)}`)
    assert.match(err.message, new RegExp(`^no space left on device writing index file ${fs.dir}/index/\\d+\\.(log|ldb); free space and run the command again$`))
  })

  it('leaves a missing file alone: that is more likely a bug, and keeps its stack', async () => {
    const failure = await readFile(join(fs.dir, 'no-such-file')).catch((err: unknown) => err)
    assert.equal(asExpectedError(failure), undefined)
    assert.equal(asExpectedError(new TypeError('x is undefined')), undefined)
  })
})
