import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { drcore } from '../support/daemon.ts'
import { removeDir, tempDir } from '../support/dirs.ts'
import { buildExt4Image, checkRealDataTools, compareFiles, copyCorpus, rewriteBlocks } from '../helpers/real-data.ts'
import { openBlockStore } from '../../src/store/index.ts'
import type { RootDb } from '../../src/store/index.ts'
import { RAW_CODE } from '../../src/points/blocks.ts'

/**
 * Chunk sizes are the repository's: `drcore init --chunk-size 16K|32K|64K` records them in
 * config.json, every backup into the repository cuts with them, and a repository whose config
 * predates the field keeps the sizes every backup used before (16 / 64 / 256 KiB), so its new
 * points still dedup with its old ones. On an ext4 image of real files (this machine's Perl
 * library and /etc), backed up, rewritten in 1% of its 4 KiB blocks and backed up again into a
 * repository of each size; each verified (full rehash) and restored byte for byte.
 */
const MiB = 1024 * 1024
const KiB = 1024
const TIMEOUT = 600_000
const SIZES = [16, 32, 64]

async function cli (args: string[]): Promise<any> {
  const r = await drcore([...args, '--json'], { timeoutMs: TIMEOUT })
  assert.equal(r.code, 0, `drcore ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

/** The sizes of the raw blocks (chunks) a repository holds, by CID. */
async function chunksOf (repo: string): Promise<Map<string, number>> {
  const db: RootDb = new Level(join(repo, 'index'))
  await db.open()
  try {
    const store = await openBlockStore({ dir: join(repo, 'packs'), db })
    const chunks = new Map<string, number>()
    for await (const { cid, size } of store.entries()) if (cid.code === RAW_CODE) chunks.set(cid.toString(), size)
    await store.close()
    return chunks
  } finally {
    await db.close()
  }
}

describe('chunk sizes per repository (real processes, real data)', { timeout: TIMEOUT }, () => {
  let work: string
  let image: string
  let rewritten: string
  /** per repository (`16`, `32`, `64`, `legacy`): its chunks after the two backups */
  const chunks = new Map<string, Map<string, number>>()
  const stored = new Map<string, number>()
  const recorded = new Map<string, unknown>()

  before(async () => {
    await checkRealDataTools()
    work = await tempDir('drcore-chunk-sizes-')
    const corpus = await copyCorpus(join(work, 'stage'), [{ path: '/usr/share/perl', maxBytes: 24 * MiB }, { path: '/etc' }])
    image = (await buildExt4Image(corpus, join(work, 'disk.img'))).path
    rewritten = join(work, 'disk-rewritten.img')
    await writeFile(rewritten, await readFile(image))
    await rewriteBlocks(rewritten, 0.01, 'chunk sizes')
  })
  after(async () => { if (work !== undefined) await removeDir(work) })

  /**
   * init (with `initArgs`), back up the image and then its rewritten copy, verifying after each;
   * restore the second point (its chunks come from both backups).
   */
  async function roundTrip (name: string, initArgs: string[], editConfig?: (config: any) => void): Promise<void> {
    const repo = join(work, `repo-${name}`)
    await cli(['init', '--repo', repo, '--name', name, '--listen', '/ip4/127.0.0.1/tcp/0', '--api-port', '0', ...initArgs])
    if (editConfig !== undefined) {
      const config = JSON.parse(await readFile(join(repo, 'config.json'), 'utf8'))
      editConfig(config)
      await writeFile(join(repo, 'config.json'), JSON.stringify(config, null, 2))
    }
    const points: string[] = []
    for (const volume of [image, rewritten]) {
      const result = await cli(['backup', 'box', `disk=${volume}`, '--repo', repo])
      points.push(result.point)
      stored.set(name, result.storedBytes)
      const verify = await cli(['verify', '--repo', repo])
      assert.equal(verify.ok, true, `verify after the backup of ${volume}: ${JSON.stringify(verify)}`)
    }
    const dest = join(work, `restore-${name}`)
    await cli(['restore', 'box', dest, '--point', points[1], '--repo', repo])
    assert.equal(await compareFiles(rewritten, join(dest, 'disk')), undefined, `the rewritten image restored from ${name}'s second point`)
    await removeDir(dest)
    chunks.set(name, await chunksOf(repo))
    recorded.set(name, JSON.parse(await readFile(join(repo, 'config.json'), 'utf8')).chunking)
    await removeDir(repo)
  }

  test('init refuses a chunk size it does not offer, with one line, and makes no repository', { timeout: TIMEOUT }, async () => {
    const repo = join(work, 'repo-48')
    const r = await drcore(['init', '--repo', repo, '--chunk-size', '48K'])
    assert.equal(r.code, 2)
    assert.equal(r.stderr, 'drcore: --chunk-size: "48K" is not a chunk size drcore offers; use 16K, 32K, 64K\n')
    await assert.rejects(readFile(join(repo, 'config.json')), { code: 'ENOENT' })
  })

  for (const kib of SIZES) {
    test(`init --chunk-size ${kib}K records min ${kib / 4}K / avg ${kib}K / max ${kib * 4}K; its backups cut by them, verify and restore`, { timeout: TIMEOUT }, async () => {
      await roundTrip(`${kib}`, ['--chunk-size', `${kib}K`])
      assert.deepEqual(recorded.get(`${kib}`), { minSize: kib / 4 * KiB, avgSize: kib * KiB, maxSize: kib * 4 * KiB }, 'config.json records the sizes')
      const sizes = [...chunks.get(`${kib}`)!.values()]
      assert.ok(Math.max(...sizes) <= kib * 4 * KiB, `no chunk above ${kib * 4} KiB (largest ${Math.max(...sizes)})`)
      // a chunk below the minimum can only end a file (the image is one file): at most one
      assert.ok(sizes.filter(s => s < kib / 4 * KiB).length <= 1, 'no chunk below the minimum but the last')
      const mean = sizes.reduce((a, b) => a + b, 0) / sizes.length
      assert.ok(mean > kib / 4 * KiB && mean < kib * 4 * KiB, `mean chunk ${mean.toFixed(0)} bytes for a ${kib} KiB average`)
    })
  }

  test('the settings cut the same image at different boundaries, and smaller chunks store less of a scattered rewrite', () => {
    const [small, middle, large] = SIZES.map(kib => chunks.get(`${kib}`))
    assert.ok(small !== undefined && middle !== undefined && large !== undefined, 'every size ran')
    for (const [a, b] of [[small, middle], [middle, large], [small, large]]) {
      const shared = [...a.keys()].filter(cid => b.has(cid)).length
      assert.ok(shared < a.size / 10, `${shared} of ${a.size} chunks shared between two settings`)
    }
    assert.ok(small.size > middle.size && middle.size > large.size, `chunk counts ${small.size} > ${middle.size} > ${large.size}`)
    const incremental = SIZES.map(kib => stored.get(`${kib}`)!)
    assert.ok(incremental[0] < incremental[2], `incremental stored bytes: 16K ${incremental[0]}, 64K ${incremental[2]}`)
  })

  test('a repository whose config has no chunking (made before it was recorded) keeps 16K / 64K / 256K: the same chunks as before', { timeout: TIMEOUT }, async () => {
    await roundTrip('legacy', [], config => { delete config.chunking })
    assert.equal(recorded.get('legacy'), undefined, 'nothing wrote sizes into the old config')
    const legacy = chunks.get('legacy')!
    const sixtyFour = chunks.get('64')
    assert.ok(sixtyFour !== undefined, 'the 64K repository ran')
    assert.deepEqual([...legacy.keys()].sort(), [...sixtyFour.keys()].sort(), 'the same chunks as a repository of 64 KiB chunks')
  })
})
