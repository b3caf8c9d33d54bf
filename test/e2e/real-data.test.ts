import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { drcore } from '../support/daemon.ts'
import { removeDir, tempDir } from '../support/dirs.ts'
import { buildExt4Image, checkRealDataTools, compareFiles, compareTrees, copyCorpus, rewriteBlocks } from '../helpers/real-data.ts'
import type { Corpus, CorpusSource } from '../helpers/real-data.ts'

/**
 * Real programs, libraries, scripts, headers and documents of this machine, as directory trees
 * and as ext4 images, through the commands a user runs. Sources differ in kind on purpose: ELF
 * binaries, gzip'd changelogs (in an image, chunks that straddle them look compressible to the
 * store's entropy sample and zstd cannot shrink them), Python, Perl and C++ text, /etc with its
 * symlinks and modes; small files (read into one reused buffer) and large ones and images
 * (streamed in chunks that are views of the read buffer).
 *
 * Through the CLI (`drcore backup`, `verify`, `restore`, each in its own process) rather than
 * `Core.run` in this process: the same operation table, but as a user runs it, with the
 * repository opened afresh by every command (so verify reads what a restarted Core finds), and
 * with the store's workers and buffers timed by a process that does nothing else.
 *
 * Sizes: about 330 MiB of images and 66 MiB of trees, one minute on this 2-core machine while
 * other tests run; the whole image set backs up, verifies and restores twice.
 */
const MiB = 1024 * 1024
const TREES: Record<string, CorpusSource[]> = {
  scripts: [{ path: '/usr/share/perl' }, { path: '/etc' }],
  libexec: [{ path: '/usr/libexec' }]
}
const IMAGES: Record<string, CorpusSource[]> = {
  'programs.img': [{ path: '/usr/bin', maxBytes: 96 * MiB }],
  'documents.img': [{ path: '/usr/share/doc' }],
  'sources.img': [{ path: '/usr/lib/python3' }, { path: '/usr/include/c++' }, { path: '/usr/include/linux' }]
}
/** share of each image's 4 KiB blocks rewritten before the incremental */
const REWRITE_SHARE = 0.01
const TIMEOUT = 300_000

interface Volume {
  name: string
  kind: 'tree' | 'image'
  /** the tree's directory or the image file */
  path: string
  corpus: Corpus
}

async function cli (args: string[]): Promise<{ code: number, json: any, stderr: string }> {
  const r = await drcore([...args, '--json'], { timeoutMs: TIMEOUT })
  let json: any
  try {
    json = JSON.parse(r.stdout)
  } catch {}
  return { code: r.code, json, stderr: r.stderr.trim() }
}

/** `drcore verify`: a full rehash of every block, then every point's closure. */
async function verifyRepository (repo: string): Promise<void> {
  const v = await cli(['verify', '--repo', repo])
  const summary = v.json === undefined
    ? v.stderr
    : `${v.json.blocks} blocks, ${v.json.corrupt.length} corrupt (${v.json.corrupt.slice(0, 3).join(', ')}), ${v.json.missing.length} missing, lost points: ${JSON.stringify(v.json.lost)}`
  assert.equal(v.code, 0, `drcore verify failed: ${summary}`)
  assert.equal(v.json.ok, true, summary)
  assert.ok(v.json.blocks > 1000, `verify checked ${v.json.blocks} blocks`)
}

describe('real data round-trips through backup, verify and restore (CLI)', { timeout: 900_000 }, () => {
  let work: string
  let repo: string
  const volumes: Volume[] = []
  const points: string[] = []

  let built = ''
  before(async () => {
    const started = performance.now()
    await checkRealDataTools()
    work = await tempDir('drcore-real-')
    repo = join(work, 'repo')
    const trees = Object.entries(TREES).map(async ([name, sources]) => {
      const corpus = await copyCorpus(join(work, 'trees', name), sources)
      return { name, kind: 'tree' as const, path: corpus.dir, corpus }
    })
    const images = Object.entries(IMAGES).map(async ([name, sources]) => {
      const corpus = await copyCorpus(join(work, 'stage', name), sources)
      const image = await buildExt4Image(corpus, join(work, name))
      return { name, kind: 'image' as const, path: image.path, corpus }
    })
    volumes.push(...await Promise.all([...trees, ...images]))
    built = `fixtures built in ${((performance.now() - started) / 1000).toFixed(1)} s: ` +
      volumes.map((v) => `${v.name} ${v.corpus.files} files ${(v.corpus.bytes / MiB).toFixed(0)} MiB`).join(', ')
    for (const v of volumes) assert.ok(v.corpus.files > 100, `${v.name}: only ${v.corpus.files} files copied from ${v.corpus.sources.join(', ')}`)
    const init = await cli(['init', '--repo', repo, '--name', 'real', '--listen', '/ip4/127.0.0.1/tcp/0', '--api-port', '0'])
    assert.equal(init.code, 0, init.stderr)
  }, { timeout: TIMEOUT })
  after(async () => { if (work !== undefined) await removeDir(work) })

  const backup = async (): Promise<any> => {
    const r = await cli(['backup', 'host01', ...volumes.map((v) => `${v.name}=${v.path}`), '--repo', repo])
    assert.equal(r.code, 0, `drcore backup failed: ${r.stderr}`)
    assert.deepEqual(r.json.skipped, [])
    points.push(r.json.point)
    return r.json
  }

  /** Restores one volume of `point` on its own and compares it with what was backed up. */
  const assertRestores = async (point: string | undefined, name: string): Promise<void> => {
    assert.ok(point !== undefined, 'no point to restore: its backup failed')
    const v = volumes.find((v) => v.name === name)!
    const dest = join(work, `restore-${point.slice(-8)}-${v.name}`)
    const r = await cli(['restore', 'host01', dest, '--point', point, '--volume', v.name, '--repo', repo])
    assert.equal(r.code, 0, `drcore restore --volume ${v.name} failed: ${r.stderr}`)
    const restored = join(dest, v.name)
    if (v.kind === 'image') {
      const difference = await compareFiles(v.path, restored)
      assert.equal(difference, undefined, `restored image ${v.name} ${difference}`)
    } else {
      assert.deepEqual(await compareTrees(v.path, restored), [], `restored tree ${v.name} differs`)
    }
    await removeDir(dest)
  }
  const what = (name: string): string => name in TREES
    ? `the tree ${name} byte for byte, with modes, mtimes, owners and symlink targets`
    : `the ext4 image ${name} byte for byte`
  const seconds = (since: number): string => `${((performance.now() - since) / 1000).toFixed(1)} s`

  test('a base backup of real trees and ext4 images verifies with a full rehash', { timeout: TIMEOUT }, async (t) => {
    t.diagnostic(built)
    let started = performance.now()
    const base = await backup()
    t.diagnostic(`backup ${seconds(started)}`)
    assert.equal(base.kind, 'base')
    const files = volumes.reduce((n, v) => n + (v.kind === 'image' ? 1 : v.corpus.files + v.corpus.symlinks), 0)
    assert.equal(base.files, files, 'every file and symlink of the trees, and each image')
    started = performance.now()
    try {
      await verifyRepository(repo)
    } finally {
      t.diagnostic(`verify ${seconds(started)}`)
    }
  })

  for (const name of [...Object.keys(TREES), ...Object.keys(IMAGES)]) {
    test(`the base point restores ${what(name)}`, { timeout: TIMEOUT }, async () => {
      await assertRestores(points[0], name)
    })
  }

  test(`after rewriting ${REWRITE_SHARE * 100}% of each image's 4 KiB blocks (random, zero, repeated bytes), an incremental verifies with a full rehash`, { timeout: TIMEOUT }, async (t) => {
    assert.equal(points.length, 1, 'the base backup failed')
    for (const v of volumes.filter((v) => v.kind === 'image')) {
      const rewrite = await rewriteBlocks(v.path, REWRITE_SHARE, `incremental ${v.name}`)
      assert.ok(rewrite.random > 0 && rewrite.zero > 0 && rewrite.repeated > 0)
    }
    let started = performance.now()
    const incremental = await backup()
    t.diagnostic(`backup ${seconds(started)}`)
    assert.equal(incremental.kind, 'incremental')
    assert.equal(incremental.parent, points[0])
    assert.ok(incremental.newBytes > 0, 'rewritten blocks make new chunks')
    started = performance.now()
    try {
      await verifyRepository(repo)
    } finally {
      t.diagnostic(`verify ${seconds(started)}`)
    }
  })

  for (const name of [...Object.keys(TREES), ...Object.keys(IMAGES)]) {
    test(`the incremental point restores ${what(name)} as it is now`, { timeout: TIMEOUT }, async () => {
      await assertRestores(points[1], name)
    })
  }
})
