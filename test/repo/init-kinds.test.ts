import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { InvalidInputError, RepositoryExistsError } from '../../src/errors.ts'
import { initRepository } from '../../src/repo/index.ts'
import { removeDir, tempDir } from '../support/dirs.ts'

describe('init tells a path that cannot hold a repository by the kind of failure', { timeout: 30_000 }, () => {
  let work: string
  before(async () => { work = await tempDir('drcore-init-kinds-') })
  after(async () => { await removeDir(work) })

  test('a file where the repository should go is bad input (400, exit 1), not a refusal', async () => {
    const file = join(work, 'a-file')
    await writeFile(file, 'not a directory\n')
    await assert.rejects(initRepository(file, { name: 'hq' }), (err: Error) =>
      err instanceof InvalidInputError && err.kind === 'bad-input' && err.exitCode === 1 && err.message === `${file} exists and is not a directory`)
  })

  test('a directory that holds something is a refusal: the repository would overwrite it', async () => {
    const full = join(work, 'full')
    await initRepository(full, { name: 'hq' })
    await assert.rejects(initRepository(full, { name: 'hq' }), (err: Error) => err instanceof RepositoryExistsError && err.kind === 'refused')
  })
})
