import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { OrphanPointError } from '../../src/errors.ts'
import { unnamed } from '../../src/api/peer-ref.ts'
import { backup } from '../../src/backup/index.ts'
import { listPath, restore, verifyPoints } from '../../src/restore/index.ts'
import { loadManifest } from '../../src/points/manifest.ts'
import { diffClosure, walkClosure } from '../../src/points/closure.ts'
import { pointRecord } from '../../src/points/point-index.ts'
import { snapshotTree } from '../helpers/tree.ts'
import { copyBlocks, testRepo, tempDir, SMALL_CHUNKING, SMALL_SHAPE } from '../helpers/backup-deps.ts'
import type { TestRepo } from '../helpers/backup-deps.ts'

/**
 * Source Core A takes a base and an incremental; target Core B receives only the incremental's
 * delta against the base (seed-drive mode before the seed arrives), under tenant "site-a".
 */
describe('an orphan: a point whose parent data has not arrived', () => {
  let a: TestRepo
  let b: TestRepo
  let work: string
  let tree: string
  let incrementalId: string
  let snapshot: Awaited<ReturnType<typeof snapshotTree>>
  const target = () => ({ store: b.store, points: b.points })

  before(async () => {
    a = await testRepo()
    b = await testRepo()
    work = await tempDir()
    tree = join(work, 'tree')
    await mkdir(join(tree, 'old'), { recursive: true })
    await writeFile(join(tree, 'old', 'archive.bin'), randomBytes(40_000))
    await writeFile(join(tree, 'old', 'notes.txt'), 'from the base\n')
    const deps = { ...a, chunking: SMALL_CHUNKING, shape: SMALL_SHAPE }
    const base = await backup(deps, { machine: 'web01', volumes: [{ name: 'root', path: tree }] })
    await writeFile(join(tree, 'new.txt'), 'written after the base\n')
    await writeFile(join(tree, 'old', 'notes.txt'), 'edited after the base\n')
    snapshot = await snapshotTree(tree)
    const inc = await backup(deps, { machine: 'web01', volumes: [{ name: 'root', path: tree }] })
    incrementalId = inc.point
    const incPoint = await loadManifest(a.store, inc.point)
    const delta = []
    for await (const cid of diffClosure(a.store, incPoint, await loadManifest(a.store, base.point))) delta.push(cid.toString())
    await copyBlocks(a.store, b.store, delta)
    await b.points.record(pointRecord(incPoint, { tenant: 'site-a', complete: false, receivedFrom: a.peerId.toString() }))
    await b.points.checkCompleteness(b.store, inc.point)
  })
  after(async () => {
    await a.close()
    await b.close()
    await rm(work, { recursive: true, force: true })
  })

  test('it is recorded incomplete, with the missing blocks counted', async () => {
    const record = await b.points.get(incrementalId)
    assert.equal(record?.complete, false)
    assert.ok(record!.missing > 0)
    const [row] = await b.points.pointRows('web01', unnamed)
    assert.equal(row.orphan, true)
    assert.equal(row.tenant, 'site-a')
    assert.deepEqual((await b.points.orphans()).map(r => r.point), [incrementalId])
  })

  test('browsing works and tells which data is present', async () => {
    const root = await listPath(target(), { machine: 'web01' })
    const byName = Object.fromEntries(root.map(e => [e.name, e.present]))
    assert.deepEqual(byName, { 'new.txt': true, old: false })
    const old = await listPath(target(), { machine: 'web01', path: '/old' })
    assert.deepEqual(Object.fromEntries(old.map(e => [e.name, e.present])), { 'archive.bin': false, 'notes.txt': true })
  })

  test('file-level restore works for present files and fails clearly for the others', async () => {
    const out = join(work, 'files')
    await restore(target(), { machine: 'site-a/web01', dest: out, path: 'new.txt' })
    await restore(target(), { machine: 'web01', dest: out, path: 'old/notes.txt' })
    assert.equal(await readFile(join(out, 'new.txt'), 'utf8'), 'written after the base\n')
    assert.equal(await readFile(join(out, 'notes.txt'), 'utf8'), 'edited after the base\n')
    await assert.rejects(restore(target(), { machine: 'web01', dest: out, path: 'old/archive.bin' }),
      (err: any) => err instanceof OrphanPointError && /^cannot restore root\/old\/archive\.bin from point \S+ of web01: (at least )?\d+ blocks? of its data (is|are) missing/.test(err.message))
  })

  test('volume-level restore is refused, naming how much is missing and how to proceed', async () => {
    await assert.rejects(restore(target(), { machine: 'web01', dest: join(work, 'vol') }), (err: any) => {
      assert.ok(err instanceof OrphanPointError)
      assert.match(err.message, new RegExp(`^point ${incrementalId} of web01 is an orphan: (at least )?\\d+ blocks? of volume data (is|are) missing \\(root: \\d+;`))
      assert.match(err.message, /a seed drive or replication of the parent will complete it\); restore single files with --path$/)
      return true
    })
  })

  test('when the rest arrives the orphan becomes complete and restores whole', async () => {
    const all = []
    for await (const cid of walkClosure(a.store, await loadManifest(a.store, incrementalId))) all.push(cid.toString())
    await copyBlocks(a.store, b.store, all.filter(c => !b.store.blocks.has(c)))
    assert.deepEqual((await b.points.recheckOrphans(b.store)).map(r => r.point), [incrementalId])
    assert.deepEqual(await b.points.orphans(), [])
    const out = join(work, 'vol')
    await restore(target(), { machine: 'web01', dest: out })
    assert.deepEqual(await snapshotTree(join(out, 'root')), snapshot)
  })

  test('verifyPoints reports a complete point that lost a block as lost', async () => {
    const before1 = await verifyPoints(target())
    assert.deepEqual(before1, { checked: 1, missing: [], orphans: [], lost: [], completed: [] })
    const signed = await loadManifest(b.store, incrementalId)
    let victim
    for await (const cid of walkClosure(b.store, signed)) victim = cid
    b.store.delete(victim!)
    const result = await verifyPoints(target())
    assert.deepEqual(result, { checked: 1, missing: [victim!.toString()], orphans: [], lost: [incrementalId], completed: [] })
    const record = await b.points.get(incrementalId)
    assert.equal(record?.complete, false)
    assert.equal(record?.damaged, true, 'it was complete: a damaged point, not an orphan')
    assert.deepEqual(await verifyPoints(target()), result, 'still damaged at the next check')
  })
})
