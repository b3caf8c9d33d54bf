import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { chmod, mkdir, readFile, rm, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { tempDir } from '../support/dirs.ts'
import { buildExt4Image, checkRealDataTools, compareFiles, compareTrees, copyCorpus, IMAGE_BLOCK, rewriteBlocks } from './real-data.ts'

const run = promisify(execFile)

/** The real-data fixtures must be able to tell a bad copy from a good one, or the tests using them prove nothing. */
describe('real-data fixtures', { timeout: 60_000 }, () => {
  let work: string
  let source: string
  before(async () => {
    await checkRealDataTools()
    work = await tempDir('drcore-fixtures-')
    source = join(work, 'source')
    await mkdir(join(source, 'sub', 'deeper'), { recursive: true })
    await writeFile(join(source, 'a.txt'), 'alpha\n'.repeat(1000))
    await writeFile(join(source, 'sub', 'b.bin'), Buffer.alloc(3 * IMAGE_BLOCK + 5, 7))
    await writeFile(join(source, 'sub', 'deeper', 'tool'), '#!/bin/sh\n')
    await chmod(join(source, 'sub', 'deeper', 'tool'), 0o750)
    await symlink('../a.txt', join(source, 'sub', 'link'))
    await run('mkfifo', [join(source, 'sub', 'pipe')])
    await utimes(join(source, 'a.txt'), 1_600_000_000.123456, 1_600_000_000.123456)
  })
  after(async () => { if (work !== undefined) await rm(work, { recursive: true, force: true }) })

  it('copies a directory with modes, mtimes and symlinks, and drops what a backup cannot keep (a FIFO)', async () => {
    const corpus = await copyCorpus(join(work, 'copy'), [{ path: source }])
    const copy = join(corpus.dir, source.slice(1).replaceAll('/', '-'))
    assert.deepEqual({ files: corpus.files, symlinks: corpus.symlinks }, { files: 3, symlinks: 1 })
    assert.deepEqual(await compareTrees(source, copy), ['sub/pipe: missing'])
  })

  it('takes the same seeded subset of a directory\'s files every time, within its byte budget', async () => {
    const budget = 8 * 1024 * 1024
    const [a, b] = await Promise.all([
      copyCorpus(join(work, 'subset-a'), [{ path: '/usr/bin', maxBytes: budget }]),
      copyCorpus(join(work, 'subset-b'), [{ path: '/usr/bin', maxBytes: budget }])
    ])
    assert.ok(a.files > 10 && a.bytes <= budget && a.bytes > budget / 2, `${a.files} files, ${a.bytes} bytes`)
    assert.deepEqual(await compareTrees(join(a.dir, 'usr-bin'), join(b.dir, 'usr-bin')), [])
    const other = await copyCorpus(join(work, 'subset-c'), [{ path: '/usr/bin', maxBytes: budget }], 'another seed')
    assert.notDeepEqual(await compareTrees(join(a.dir, 'usr-bin'), join(other.dir, 'usr-bin')), [])
  })

  it('refuses a source that is not there, naming it', async () => {
    await assert.rejects(copyCorpus(join(work, 'none'), [{ path: '/no/such/dir' }]), /corpus source \/no\/such\/dir is not a directory/)
  })

  it('reports every kind of difference between two trees', async () => {
    const corpus = await copyCorpus(join(work, 'changed'), [{ path: source }])
    const copy = join(corpus.dir, source.slice(1).replaceAll('/', '-'))
    const bin = await readFile(join(copy, 'sub', 'b.bin'))
    bin[2 * IMAGE_BLOCK + 1] ^= 1
    const { mtime } = await stat(join(copy, 'sub', 'b.bin'))
    await writeFile(join(copy, 'sub', 'b.bin'), bin)
    await utimes(join(copy, 'sub', 'b.bin'), mtime, mtime)
    await utimes(join(copy, 'a.txt'), 1_600_000_000.123458, 1_600_000_000.123458)
    await unlink(join(copy, 'sub', 'link'))
    await symlink('a.txt', join(copy, 'sub', 'link'))
    await writeFile(join(copy, 'extra'), '')
    await rm(join(copy, 'sub', 'deeper'), { recursive: true })
    await mkdir(join(copy, 'sub', 'deeper'))
    await writeFile(join(copy, 'sub', 'deeper', 'tool'), '#!/bin/sh\n')
    const problems = await compareTrees(source, copy)
    assert.ok(problems.some((p) => p.startsWith('a.txt: mtime ')), problems.join('\n'))
    assert.ok(problems.includes(`sub/b.bin: differs at byte ${2 * IMAGE_BLOCK + 1} (4 KiB block 2)`), problems.join('\n'))
    assert.ok(problems.includes('sub/link: links to a.txt, expected ../a.txt'), problems.join('\n'))
    assert.ok(problems.includes('extra: not expected'), problems.join('\n'))
    assert.ok(problems.includes('sub/deeper/tool: mode 644, expected 750'), problems.join('\n'))
    assert.ok(problems.some((p) => p.startsWith('sub/deeper: mtime ')), problems.join('\n'))
    await rm(join(copy, 'sub', 'b.bin'))
    await mkdir(join(copy, 'sub', 'b.bin'))
    assert.ok((await compareTrees(source, copy)).includes('sub/b.bin: is a directory, expected a file'))
    await rm(join(copy, 'a.txt'))
    assert.ok((await compareTrees(source, copy)).includes('a.txt: missing'))
  })

  it('names where two files first differ, or that their lengths differ', async () => {
    const a = join(work, 'file-a')
    const b = join(work, 'file-b')
    const bytes = Buffer.alloc(9 * 1024 * 1024, 3)
    await writeFile(a, bytes)
    await writeFile(b, bytes)
    assert.equal(await compareFiles(a, b), undefined)
    bytes[5 * 1024 * 1024 + 7] = 4
    await writeFile(b, bytes)
    assert.equal(await compareFiles(a, b), `differs at byte ${5 * 1024 * 1024 + 7} (4 KiB block 1280)`)
    await writeFile(b, bytes.subarray(1))
    assert.equal(await compareFiles(a, b), `is ${bytes.length - 1} bytes long, expected ${bytes.length}`)
  })

  it('rewrites the given share of 4 KiB blocks with random, zero and repeated bytes, the same way for the same seed', async () => {
    const original = Buffer.alloc(2000 * IMAGE_BLOCK, 0xee)
    const paths = ['r1', 'r2', 'r3'].map((n) => join(work, n))
    for (const p of paths) await writeFile(p, original)
    const [one, two, three] = [await rewriteBlocks(paths[0], 0.05, 'seed'), await rewriteBlocks(paths[1], 0.05, 'seed'), await rewriteBlocks(paths[2], 0.05, 'other')]
    assert.equal(one.blocks.length, 100)
    assert.equal(new Set(one.blocks).size, 100)
    assert.equal(one.random + one.zero + one.repeated, 100)
    assert.ok(one.random > 10 && one.zero > 10 && one.repeated > 10, JSON.stringify({ ...one, blocks: undefined }))
    assert.deepEqual(await readFile(paths[0]), await readFile(paths[1]))
    assert.notDeepEqual(three.blocks, one.blocks)
    assert.deepEqual(two.blocks, one.blocks)
    const after = await readFile(paths[0])
    assert.equal(after.length, original.length)
    let changed = 0
    for (let i = 0; i < 2000; i++) {
      if (!after.subarray(i * IMAGE_BLOCK, (i + 1) * IMAGE_BLOCK).equals(original.subarray(i * IMAGE_BLOCK, (i + 1) * IMAGE_BLOCK))) changed++
    }
    assert.ok(changed >= 95 && changed <= 100, `${changed} blocks changed`) // a repeated 0xee block changes nothing
  })

  it('builds an ext4 image holding the corpus, file for file', async () => {
    const corpus = await copyCorpus(join(work, 'stage'), [{ path: source }])
    const image = await buildExt4Image(corpus, join(work, 'small.img'))
    assert.equal((await stat(image.path)).size, image.bytes)
    const inside = `/${source.slice(1).replaceAll('/', '-')}/sub/b.bin`
    const { stdout } = await run('debugfs', ['-R', `cat ${inside}`, image.path], { encoding: 'buffer', maxBuffer: 1 << 20 })
    assert.deepEqual(stdout, await readFile(join(source, 'sub', 'b.bin')))
  })
})
