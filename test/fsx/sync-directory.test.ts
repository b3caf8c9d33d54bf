import assert from 'node:assert/strict'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { syncDirectory } from '../../src/fsx/sync-directory.ts'
import { removeDir, tempDir } from '../support/dirs.ts'

const openFds = async (): Promise<number> => (await readdir('/proc/self/fd')).length

describe('syncDirectory', { timeout: 10_000 }, () => {
  it('syncs a directory and leaves no handle open; a missing directory is an ENOENT', async () => {
    const dir = await tempDir()
    try {
      await writeFile(join(dir, 'new'), 'x')
      const before = await openFds()
      await syncDirectory(dir)
      await assert.rejects(syncDirectory(join(dir, 'absent')), { code: 'ENOENT' })
      assert.equal(await openFds(), before, 'no handle left open')
    } finally {
      await removeDir(dir)
    }
  })
})
