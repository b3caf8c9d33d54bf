import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { drcore, ROOT } from '../support/daemon.ts'
import { removeDir, tempDir } from '../support/dirs.ts'
import { compareTrees } from '../helpers/real-data.ts'

/**
 * A repository written before node format 2 still reads, lists, verifies and restores, and takes
 * new points on top of its old ones.
 *
 * fixtures/v1-repository.tar.gz was made by drcore at commit 8fcc024 (manifest version 1):
 * `drcore init`, `drcore backup web01 tree` (base), notes.txt edited, `drcore backup web01 tree`
 * (incremental). It holds the repository and the tree as it was at the second backup.
 */
const BASE = 'bafyreihmqomiltv4e6tbnffe66c2jrb2wrozzbhvc22vnwxg7lu4dyzj6q'
const LATEST = 'bafyreiawzv7id7ihbt3tq7fxgrdbe4hlntyxeqrfozzexi64f46hkjeqwq'

async function json (args: string[], expect = 0): Promise<any> {
  const r = await drcore([...args, '--json'])
  assert.equal(r.code, expect, `drcore ${args.join(' ')}: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

describe('a repository written with manifest version 1', { timeout: 120_000 }, () => {
  let work: string
  let repo: string
  let tree: string
  before(async () => {
    work = await tempDir('drcore-v1-')
    await new Promise<void>((resolve, reject) => execFile('tar', ['-xzf', join(ROOT, 'test', 'e2e', 'fixtures', 'v1-repository.tar.gz'), '-C', work], err => err === null ? resolve() : reject(err)))
    repo = join(work, 'repo')
    tree = join(work, 'tree')
  })
  after(async () => { await removeDir(work) })

  test('lists its points and their files, and verifies', async () => {
    const points = await json(['points', 'web01', '--repo', repo])
    assert.deepEqual(points.map((p: any) => [p.point, p.kind, p.complete, p.partial]), [[BASE, 'base', true, false], [LATEST, 'incremental', true, false]])
    const ls = await json(['ls', 'web01', '--repo', repo])
    assert.deepEqual(ls.map((e: any) => e.name), ['big.txt', 'bin', 'etc', 'notes.txt'])
    assert.equal((await json(['verify', '--repo', repo])).ok, true)
  })

  test('restores both points as they were', async () => {
    const latest = join(work, 'latest')
    await json(['restore', 'web01', latest, '--repo', repo])
    assert.deepEqual(await compareTrees(tree, join(latest, 'tree')), [])
    const base = join(work, 'base')
    await json(['restore', 'web01', base, '--point', BASE, '--repo', repo])
    assert.equal(await readFile(join(base, 'tree', 'notes.txt'), 'utf8'), 'kept in version 1\n')
  })

  test('a new backup on top of a version 1 point is an incremental of it, reads every file once (no ctime to compare), and restores', async () => {
    const r = await json(['backup', 'web01', tree, '--repo', repo])
    assert.equal(r.kind, 'incremental')
    assert.equal(r.parent, LATEST)
    assert.equal(r.bytes, 200_000 + 21 + 6 + 22, 'the parent has no ctime: every file is read again, once')
    assert.equal(r.newBytes, 0, 'and deduplicates against the version 1 chunks')
    const again = await json(['backup', 'web01', tree, '--repo', repo])
    assert.equal(again.bytes, 0, 'from then on unchanged files are not read')
    const out = join(work, 'after')
    await json(['restore', 'web01', out, '--repo', repo])
    assert.deepEqual(await compareTrees(tree, join(out, 'tree')), [])
    assert.equal((await json(['verify', '--repo', repo])).ok, true)
  })
})
