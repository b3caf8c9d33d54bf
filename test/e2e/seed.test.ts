import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { appendFile, copyFile, mkdir, truncate, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { drcore, drcoreJson, startCore } from '../support/daemon.ts'
import { tempDir, removeDir } from '../support/dirs.ts'
import { snapshotTree } from '../helpers/tree.ts'

/** A drive: a fresh folder holding copies of some part files. */
async function drive (dir: string, files: string[]): Promise<string> {
  await mkdir(dir, { recursive: true })
  for (const file of files) await copyFile(file, join(dir, basename(file)))
  return dir
}

describe('seed drives through the CLI: create on one Core, consume on another', () => {
  let work: string
  let hq: string
  let hqId: string
  let tree: string
  let latest: Awaited<ReturnType<typeof snapshotTree>>
  let seed: any

  const init = async (name: string): Promise<string> => {
    const repo = join(work, name)
    await drcoreJson(['init', '--repo', repo, '--name', name, '--listen', '/ip4/127.0.0.1/tcp/0', '--api-port', '0'])
    return repo
  }
  /** A target Core that trusts hq (its points land in tenant hq). */
  const target = async (name: string): Promise<string> => {
    const repo = await init(name)
    await drcoreJson(['peer', 'allow', hqId, '--name', 'hq', '--repo', repo])
    return repo
  }

  before(async () => {
    work = await tempDir()
    hq = await init('hq')
    hqId = (await drcoreJson(['id', '--repo', hq])).peerId
    tree = join(work, 'data')
    await mkdir(join(tree, 'etc'), { recursive: true })
    await writeFile(join(tree, 'disk.img'), randomBytes(1536 * 1024))
    await writeFile(join(tree, 'etc', 'app.conf'), 'listen = 8080\n')
    await drcoreJson(['backup', 'web01', tree, '--repo', hq])
    for (let i = 0; i < 2; i++) {
      await appendFile(join(tree, 'etc', 'app.conf'), `change ${i}\n`)
      await writeFile(join(tree, `new-${i}.bin`), randomBytes(200 * 1024))
      await drcoreJson(['backup', 'web01', tree, '--repo', hq])
    }
    latest = await snapshotTree(tree)
  })
  after(async () => { await removeDir(work) })

  test('seed create --machines writes parts under --max-size and prints the contract JSON', async () => {
    seed = await drcoreJson(['seed', 'create', '--repo', hq, '--out', join(work, 'seed'), '--machines', 'web01', '--max-size', '1M'])
    assert.deepEqual(Object.keys(seed).filter(k => ['seed', 'parts', 'points', 'blocks', 'bytes'].includes(k)).sort(), ['blocks', 'bytes', 'parts', 'points', 'seed'])
    assert.equal(seed.points, 3)
    assert.ok(seed.parts.length >= 2)
    for (const part of seed.parts) assert.ok(part.size <= 1024 * 1024)
    const [row] = await drcoreJson(['seed', 'list', '--repo', hq])
    assert.equal(row.seed, seed.seed)
    assert.equal(row.state, 'outstanding')
    assert.deepEqual(row.machines, ['web01'])
  })

  test('without a daemon: one drive at a time, the last part first; the points come out complete', async () => {
    const dst = await target('dst1')
    const parts = seed.parts.map((p: any) => p.file)
    const first = await drcoreJson(['seed', 'consume', await drive(join(work, 'drive-b'), parts.slice(1)), '--repo', dst])
    assert.deepEqual(first.missingParts, [1])
    assert.equal(first.complete, false)
    const second = await drcoreJson(['seed', 'consume', await drive(join(work, 'drive-a'), parts.slice(0, 1)), '--repo', dst])
    assert.deepEqual(second.missingParts, [])
    assert.equal(second.complete, true)
    assert.equal(new Set([...first.pointsCompleted, ...second.pointsCompleted]).size, 3)
    const points = await drcoreJson(['points', 'web01', '--repo', dst])
    assert.deepEqual(points.map((p: any) => [p.tenant, p.complete]), [['hq', true], ['hq', true], ['hq', true]])
    await drcoreJson(['restore', 'web01', join(work, 'restored-1'), '--repo', dst])
    assert.deepEqual(await snapshotTree(join(work, 'restored-1', 'data')), latest)
    const text = await drcore(['seed', 'consume', join(work, 'drive-a'), '--repo', dst])
    assert.equal(text.code, 0)
    assert.match(text.stdout, /part 1: already imported/)
    assert.match(text.stdout, /every part of the seed is in/)
  })

  test('with the daemon running on the target: consume goes through its API', async () => {
    const dst = await target('dst2')
    const core = await startCore(dst)
    try {
      const result = await drcoreJson(['seed', 'consume', join(work, 'seed'), '--repo', dst])
      assert.equal(result.complete, true)
      assert.equal(result.parts.length, seed.parts.length)
      assert.equal(result.pointsCompleted.length, 3)
      const [row] = await drcoreJson(['seed', 'list', '--repo', dst])
      assert.deepEqual([row.direction, row.state, row.source.peerId], ['incoming', 'consumed', hqId])
      await drcoreJson(['restore', 'web01', join(work, 'restored-2'), '--repo', dst])
    } finally {
      await core.stop()
    }
    assert.deepEqual(await snapshotTree(join(work, 'restored-2', 'data')), latest)
  })

  test('bad input: one line per problem on stderr, exit 1', async () => {
    const dst = await target('dst3')
    const empty = join(work, 'empty')
    await mkdir(empty)
    const none = await drcore(['seed', 'consume', empty, '--repo', dst])
    assert.equal(none.code, 1)
    assert.equal(none.stderr, `drcore: ${empty} holds no seed: there is no .car.zst (or .car) file in it\n`)

    const damaged = await drive(join(work, 'damaged'), [seed.parts[0].file])
    await truncate(join(damaged, basename(seed.parts[0].file)), 1000)
    const r = await drcore(['seed', 'consume', damaged, '--repo', dst, '--json'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /^drcore: \S+-0001\.car\.zst is truncated: it ends inside (the section at byte \d+|its first zstd frame \(the CAR header and the descriptors\))\n$/)
    assert.equal(JSON.parse(r.stdout).parts[0].state, 'failed')

    const stranger = await init('stranger')
    const refused = await drcore(['seed', 'consume', join(work, 'seed'), '--repo', stranger])
    assert.equal(refused.code, 1)
    assert.equal(refused.stderr.trim().split('\n').length, 1)
    assert.match(refused.stderr, /which this Core has not approved: allow it with "drcore peer allow /)
  })

  test('seed abandon marks the seed abandoned; an unknown seed is a clear error', async () => {
    const r = await drcoreJson(['seed', 'abandon', seed.seed, '--repo', hq])
    assert.equal(r.state, 'abandoned')
    const [row] = await drcoreJson(['seed', 'list', '--repo', hq])
    assert.equal(row.state, 'abandoned')
    const unknown = await drcore(['seed', 'abandon', 'bafyreinope', '--repo', hq])
    assert.equal(unknown.code, 1)
    assert.match(unknown.stderr, /^drcore: unknown seed: bafyreinope/)
    const usage = await drcore(['seed', 'create', '--repo', hq])
    assert.equal(usage.code, 2)
  })
})
