/**
 * The prune benchmark's day of change (scripts/bench/churn.ts) on real data: it must really
 * edit, add and delete files in a tree and inside an ext4 image, keep the image's file system
 * consistent from day to day (it is changed with debugfs, never mounted), and the tree manifest
 * a restore is compared with must see a changed byte, a changed mode and a missing file.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { chmod, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { AdditionPool, changeImage, changeTree, imageFiles, manifestDiff, treeManifest } from '../../scripts/bench/churn.ts'
import { sha256File } from '../../scripts/bench/lib.ts'
import { buildExt4Image, checkRealDataTools, copyCorpus } from '../helpers/real-data.ts'
import type { Corpus, Ext4Image } from '../helpers/real-data.ts'
import { removeDir, tempDir } from '../support/dirs.ts'

const exec = promisify(execFile)
const MiB = 1024 * 1024
const POOL = ['/usr/include/linux']

describe('the prune benchmark\'s day of change', { timeout: 120_000 }, () => {
  let work: string
  let corpus: Corpus
  let image: Ext4Image

  before(async () => {
    await checkRealDataTools()
    work = await tempDir('drcore-churn-')
    corpus = await copyCorpus(join(work, 'tree'), [{ path: '/usr/share/doc/git' }, { path: '/usr/share/doc/bash' }, { path: '/usr/share/i18n/locales', maxBytes: 2 * MiB }])
    image = await buildExt4Image(corpus, join(work, 'disk.img'))
  })
  after(async () => { await removeDir(work) })

  it('edits, deletes and adds files of a tree, the added ones copies of real files of the pool', async () => {
    const tree = join(work, 'tree-copy')
    await exec('cp', ['-a', corpus.dir, tree])
    const before = await treeManifest(tree)
    const pool = await AdditionPool.of(POOL, 'test')
    const change = await changeTree(tree, 1, pool, { edit: 0.05, remove: 0.05, addBytes: 200_000, seed: 'test' })
    assert.ok(change.edited > 0 && change.deleted > 0 && change.added > 0, JSON.stringify(change))
    const after = await treeManifest(tree)
    const diff = manifestDiff(before, after, 100_000)
    // a file may be edited, then deleted the same day
    const gone = diff.filter(l => l.startsWith('missing: f')).length
    assert.ok(gone >= Math.max(change.edited, change.deleted) && gone <= change.edited + change.deleted, `${gone} files changed or gone for ${JSON.stringify(change)}`)
    const added = await readdir(join(tree, 'added-1'))
    assert.equal(added.length, change.added)
    const header = (await readdir('/usr/include/linux')).find(n => added.some(a => a.replace(/^\d+-/, '') === n))
    assert.ok(header !== undefined, 'the added files are named after the pool\'s')
    const copy = added.find(a => a.replace(/^\d+-/, '') === header)!
    assert.deepEqual(await readFile(join(tree, 'added-1', copy)), await readFile(join('/usr/include/linux', header)))
    await rm(tree, { recursive: true })
  })

  it('changes the image through debugfs day after day, and its file system stays consistent', async () => {
    const pool = await AdditionPool.of(POOL, 'test')
    const before = await imageFiles(image.path)
    assert.ok(before.length > 10, `the image lists its files (${before.length})`)
    const hashes = [await sha256File(image.path)]
    for (const day of [1, 2]) {
      const change = await changeImage(image.path, day, pool, { remove: 0.05, addBytes: 300_000, rewrite: 0.005, seed: 'test', sizeBytes: image.bytes })
      assert.ok(change.deleted > 0 && change.added > 0 && change.edited > 0, JSON.stringify(change))
      hashes.push(await sha256File(image.path))
      // e2fsck -n exits 0 only when the file system is clean
      await exec('e2fsck', ['-f', '-n', image.path])
      const files = await imageFiles(image.path)
      assert.equal(files.filter(f => f.path.startsWith(`/added-${day}/`)).length, change.added)
    }
    assert.equal(new Set(hashes).size, 3, 'each day changes the image\'s bytes')
    assert.equal((await stat(image.path)).size, image.bytes)
  })

  it('a tree manifest sees a changed byte, a changed mode and a missing file, and nothing in an exact copy', async () => {
    const a = join(work, 'a')
    const b = join(work, 'b')
    await exec('cp', ['-a', corpus.dir, a])
    await exec('cp', ['-a', corpus.dir, b])
    const want = await treeManifest(a)
    assert.deepEqual(manifestDiff(want, await treeManifest(b)), [])
    const files = want.filter(l => l.startsWith('f ')).map(l => l.split(' ').slice(4).join(' '))
    const [edited, chmodded, removed] = [files[0], files[1], files[2]]
    const bytes = await readFile(join(b, edited))
    bytes[0] ^= 1
    await writeFile(join(b, edited), bytes)
    await chmod(join(b, chmodded), ((await stat(join(b, chmodded))).mode & 0o7777) ^ 0o001)
    await rm(join(b, removed))
    const diff = manifestDiff(want, await treeManifest(b), 100)
    for (const name of [edited, chmodded, removed]) assert.ok(diff.some(l => l.startsWith('missing: ') && l.endsWith(` ${name}`)), `${name}: ${diff.join(' | ')}`)
  })
})
