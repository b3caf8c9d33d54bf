import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { makeDirs } from '../../src/fsx/make-dirs.ts'
import { tempDir, removeDir } from '../support/dirs.ts'

/** `mkdir -p` that ends: where Node's recursive mkdir loops forever (/proc), it fails. */
describe('makeDirs', { timeout: 30_000 }, () => {
  let work: string
  before(async () => { work = await tempDir() })
  after(async () => { await removeDir(work) })

  test('creates the missing folders with the mode, and returns the first it created', async () => {
    const deep = join(work, 'a', 'b', 'c')
    assert.equal(await makeDirs(deep, 0o700), join(work, 'a'))
    for (const dir of ['a', 'a/b', 'a/b/c']) assert.equal((await stat(join(work, dir))).mode & 0o777, 0o700 & ~process.umask())
    assert.equal(await makeDirs(deep), undefined, 'nothing to create')
  })

  test('a folder a file system refuses to create is ENOENT at once, not a loop (/proc)', async () => {
    await assert.rejects(makeDirs('/proc/drcore-test/x'), (err: NodeJS.ErrnoException) => err.code === 'ENOENT' && err.path === '/proc/drcore-test')
  })

  test('a file in the way is ENOTDIR naming it', async () => {
    await mkdir(join(work, 'f'))
    await writeFile(join(work, 'f', 'file'), 'x')
    await assert.rejects(makeDirs(join(work, 'f', 'file', 'sub')), (err: NodeJS.ErrnoException) => err.code === 'ENOTDIR' && err.path === join(work, 'f', 'file'))
  })
})
