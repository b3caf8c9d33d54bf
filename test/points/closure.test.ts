import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { backup } from '../../src/backup/index.ts'
import { loadManifest } from '../../src/points/manifest.ts'
import { diffClosure, missingBlocks, walkClosure } from '../../src/points/closure.ts'
import { isRaw } from '../../src/points/blocks.ts'
import type { SignedPoint } from '../../src/points/api.ts'
import type { BlockStore } from '../../src/store/api.ts'
import { testRepo, tempDir, SMALL_CHUNKING, SMALL_SHAPE } from '../helpers/backup-deps.ts'
import type { TestRepo } from '../helpers/backup-deps.ts'

async function collect (it: AsyncIterable<CID>): Promise<string[]> {
  const out: string[] = []
  for await (const cid of it) out.push(cid.toString())
  return out
}

async function closureSet (store: BlockStore, point: SignedPoint): Promise<Set<string>> {
  return new Set(await collect(walkClosure(store, point)))
}

describe('closure walk, Merkle diff and missing blocks', () => {
  let repo: TestRepo
  let work: string
  const deps = () => ({ ...repo, chunking: SMALL_CHUNKING, shape: SMALL_SHAPE })
  const take = async (machine: string, path: string) => await loadManifest(repo.store, (await backup(deps(), { machine, volumes: [{ name: 'v', path }] })).point)

  before(async () => {
    repo = await testRepo()
    work = await tempDir()
  })
  after(async () => {
    await repo.close()
    await rm(work, { recursive: true, force: true })
  })

  test('the closure of a first point is exactly the blocks it stored, manifest first, each once', async () => {
    const tree = join(work, 'tree')
    for (let d = 0; d < 6; d++) {
      await mkdir(join(tree, `dir${d}`, 'sub'), { recursive: true })
      for (let f = 0; f < 5; f++) await writeFile(join(tree, `dir${d}`, f % 2 === 0 ? 'sub' : '', `file${f}`), randomBytes(3000 + f * 700))
    }
    await writeFile(join(tree, 'dup-a'), Buffer.alloc(20_000))
    await writeFile(join(tree, 'dup-b'), Buffer.alloc(20_000))
    const point = await take('tree', tree)
    const walked = await collect(walkClosure(repo.store, point))
    assert.equal(walked[0], point.id.toString())
    assert.equal(new Set(walked).size, walked.length, 'no block is yielded twice')
    assert.deepEqual(new Set(walked), new Set(repo.store.blocks.keys()))
  })

  test('diffClosure yields exactly the blocks of the new point that the old one lacks', async () => {
    const tree = join(work, 'tree')
    const base = await loadManifest(repo.store, (await repo.points.latest({ tenant: '', origin: repo.peerId.toString(), machine: 'tree' }))!.point)
    await writeFile(join(tree, 'dir3', 'sub', 'file2'), randomBytes(4000))
    await writeFile(join(tree, 'dir5', 'added'), randomBytes(2000))
    const next = await take('tree', tree)
    const diff = await collect(diffClosure(repo.store, next, base))
    const [a, b] = [await closureSet(repo.store, next), await closureSet(repo.store, base)]
    const expected = [...a].filter(c => !b.has(c))
    assert.deepEqual(new Set(diff), new Set(expected))
    assert.equal(diff.length, expected.length)
    assert.ok(diff.length < a.size / 4, `a two-file change is a small delta (${diff.length} of ${a.size} blocks)`)
    assert.deepEqual(await collect(diffClosure(repo.store, next, next)), [])
  })

  test('an insert in the middle of a large image changes a few nodes per level, not every node after it', async () => {
    const image = join(work, 'image')
    const data = randomBytes(1024 * 1024)
    await writeFile(image, data)
    const before1 = await take('img', image)
    await writeFile(image, Buffer.concat([data.subarray(0, 500_000), randomBytes(100), data.subarray(500_000)]))
    const after1 = await take('img', image)
    const diff = await collect(diffClosure(repo.store, after1, before1))
    const all = await closureSet(repo.store, after1)
    const nodes = [...all].filter(c => !isRaw(CID.parse(c))).length
    const changedNodes = diff.filter(c => !isRaw(CID.parse(c))).length
    assert.ok(nodes > 200, `the image has many file nodes (${nodes})`)
    assert.ok(changedNodes <= 20, `only nodes near the insert change (${changedNodes} of ${nodes})`)
    assert.ok(diff.length - changedNodes <= 6, 'only the chunks around the insert are new')
  })

  test('missingBlocks counts absent chunks and nodes per volume; a missing node hides its subtree', async () => {
    const tree = join(work, 'gaps')
    await mkdir(join(tree, 'a'), { recursive: true })
    await writeFile(join(tree, 'a', 'one'), randomBytes(30_000))
    await writeFile(join(tree, 'two'), randomBytes(30_000))
    const point = await take('gaps', tree)
    assert.deepEqual(await missingBlocks(repo.store, point), { count: 0, nodes: 0, cids: [], byVolume: {} })
    const closure = await collect(walkClosure(repo.store, point))
    const chunks = closure.filter(c => isRaw(CID.parse(c)))
    const removed = new Map<string, Uint8Array>()
    for (const c of chunks.slice(0, 3)) {
      removed.set(c, repo.store.blocks.get(c)!)
      repo.store.delete(CID.parse(c))
    }
    const report = await missingBlocks(repo.store, point)
    assert.equal(report.count, 3)
    assert.deepEqual(new Set(report.cids.map(String)), new Set(chunks.slice(0, 3)))
    assert.deepEqual(report.byVolume, { v: 3 })
    // the root directory gone: one missing block, nothing below it is known
    const root = point.manifest.volumes.v.root
    removed.set(root.toString(), repo.store.blocks.get(root.toString())!)
    repo.store.delete(root)
    assert.equal((await missingBlocks(repo.store, point)).count, 1)
    for (const [k, v] of removed) repo.store.blocks.set(k, v)
    assert.equal((await missingBlocks(repo.store, point)).count, 0)
  })
})
