import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Level } from 'level'
import { jsonSublevel } from '../../src/store/sublevels.ts'
import { REPOSITORY_FORMAT } from '../../src/repo/format.ts'
import { drcore, drcoreJson } from '../support/daemon.ts'
import { removeDir, tempDir } from '../support/dirs.ts'

/** Reads or writes the format a repository records (the daemon must not be running). */
async function withMeta<T> (repo: string, fn: (meta: ReturnType<typeof jsonSublevel<unknown>>) => Promise<T>): Promise<T> {
  const db = new Level<string, any>(join(repo, 'index'))
  await db.open()
  try {
    return await fn(jsonSublevel<unknown>(db, 'meta'))
  } finally {
    await db.close()
  }
}

describe('the repository format version', { timeout: 120_000 }, () => {
  let work: string
  before(async () => { work = await tempDir() })
  after(async () => { await removeDir(work) })

  test('init records the format; a repository of a newer format is refused with one line naming both versions', async () => {
    const repo = join(work, 'newer')
    await drcoreJson(['init', '--repo', repo, '--name', 'a'])
    assert.equal(await withMeta(repo, async meta => await meta.get('format')), REPOSITORY_FORMAT)
    await withMeta(repo, async meta => { await meta.put('format', REPOSITORY_FORMAT + 1) })
    const r = await drcore(['machines', '--repo', repo])
    assert.equal(r.code, 1)
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
    assert.match(r.stderr, new RegExp(`repository .*newer is format version ${REPOSITORY_FORMAT + 1}, written by a newer drcore; this drcore reads format version ${REPOSITORY_FORMAT}`))
    assert.equal(await withMeta(repo, async meta => await meta.get('format')), REPOSITORY_FORMAT + 1, 'the refusal changed nothing')
  })

  test('a format this drcore does not understand is refused too', async () => {
    const repo = join(work, 'garbled')
    await drcoreJson(['init', '--repo', repo, '--name', 'b'])
    await withMeta(repo, async meta => { await meta.put('format', 'two') })
    const r = await drcore(['verify', '--repo', repo])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /records a format version this drcore does not understand \("two"\)/)
  })

  test('a repository written before formats were recorded opens as format 1 and gets the record', async () => {
    const repo = join(work, 'older')
    await drcoreJson(['init', '--repo', repo, '--name', 'c'])
    await withMeta(repo, async meta => { await meta.del('format') })
    assert.deepEqual(await drcoreJson(['machines', '--repo', repo]), [])
    assert.equal(await withMeta(repo, async meta => await meta.get('format')), 1)
  })
})
