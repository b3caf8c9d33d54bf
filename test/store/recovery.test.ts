import assert from 'node:assert/strict'
import { appendFile, readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { jsonSublevel, rebuildBlockIndex, UnindexedPacksError } from '../../src/store/index.ts'
import { collect, compressibleBlock, flipByte, putAll, randomBlock, TestRepo } from './helpers.ts'

describe('opening a store after a crash', () => {
  let repo: TestRepo
  beforeEach(async () => { repo = await TestRepo.create() })
  afterEach(async () => { await repo.cleanup() })

  it('cuts each pack back to its committed length', async () => {
    const store = await repo.open()
    const blocks = [randomBlock(3000), randomBlock(3000)]
    await putAll(store, blocks)
    await store.close()
    const path = join(repo.packsDir, '00000001.pack')
    const committed = (await stat(path)).size
    await appendFile(path, Buffer.alloc(12345, 7)) // an append whose index batch never landed

    const reopened = await repo.open()
    assert.equal((await stat(path)).size, committed)
    for (const b of blocks) assert.deepEqual(new Uint8Array(await reopened.get(b.cid)), b.bytes)
    // and appends continue at the committed length
    const next = randomBlock(3000)
    await putAll(reopened, [next])
    assert.ok((await collect(reopened.verifyAll())).every((r) => r.ok))
    await reopened.close()
  })

  it('deletes an empty pack file the index has no record of (a crash right after creating it)', async () => {
    const store = await repo.open()
    await putAll(store, [randomBlock(1000)])
    await store.close()
    await writeFile(join(repo.packsDir, '00000002.pack'), '')

    const reopened = await repo.open()
    assert.deepEqual(await readdir(repo.packsDir), ['00000001.pack'])
    await reopened.close()
  })

  it('deletes a pack recorded with committed length 0 (a crash before its first index batch)', async () => {
    const store = await repo.open()
    await putAll(store, [randomBlock(100)])
    await store.close()
    await jsonSublevel<number>(repo.db, 'packs').put('00000002', 0)
    await writeFile(join(repo.packsDir, '00000002.pack'), Buffer.alloc(5000, 1))

    const reopened = await repo.open()
    assert.deepEqual(await readdir(repo.packsDir), ['00000001.pack'])
    assert.deepEqual(await collect(jsonSublevel(repo.db, 'packs').keys()), ['00000001'])
    await putAll(reopened, [randomBlock(100)]) // pack numbers are not reused
    assert.deepEqual((await readdir(repo.packsDir)).sort(), ['00000001.pack'])
    await reopened.close()
  })

  it('refuses to open, and deletes nothing, when the index does not know a non-empty pack', async () => {
    const store = await repo.open()
    await putAll(store, [randomBlock(100)])
    await store.close()
    await repo.db.sublevel('packs').clear()
    await assert.rejects(repo.open(), (err: unknown) => {
      assert.ok(err instanceof UnindexedPacksError)
      assert.match(err.message, /no record of pack files in .*packs \(00000001\.pack\)/)
      return true
    })
    assert.deepEqual(await readdir(repo.packsDir), ['00000001.pack'])
  })
})

describe('rebuildBlockIndex', () => {
  let repo: TestRepo
  beforeEach(async () => { repo = await TestRepo.create() })
  afterEach(async () => { await repo.cleanup() })

  it('rebuilds a lost index from the packs alone', async () => {
    const store = await repo.open({ limits: { packTargetSize: 30_000 } })
    const blocks = Array.from({ length: 12 }, (_, i) => i % 2 === 0 ? randomBlock(7000) : compressibleBlock(7000))
    for (let i = 0; i < 12; i += 3) await putAll(store, blocks.slice(i, i + 3))
    const before = await store.stats()
    await store.close()
    await repo.db.clear()

    const result = await rebuildBlockIndex({ dir: repo.packsDir, db: repo.db })
    assert.deepEqual(result, { packs: before.packs, blocks: 12, corrupt: [], damaged: [] })
    const reopened = await repo.open()
    assert.deepEqual(await reopened.stats(), before)
    for (const b of blocks) assert.deepEqual(new Uint8Array(await reopened.get(b.cid)), b.bytes)
    await reopened.close()
  })

  it('leaves corrupt records out and reports them', async () => {
    const store = await repo.open()
    const blocks = [randomBlock(2000), randomBlock(2000)]
    await putAll(store, blocks)
    await store.close()
    await flipByte(join(repo.packsDir, '00000001.pack'), -1)
    await repo.db.clear()

    const result = await rebuildBlockIndex({ dir: repo.packsDir, db: repo.db })
    assert.equal(result.blocks, 1)
    assert.equal(result.corrupt.length, 1)
    assert.match(result.corrupt[0], new RegExp(`block ${blocks[1].cid} is corrupt`))
    const reopened = await repo.open()
    assert.deepEqual(await reopened.hasMany(blocks.map((b) => b.cid)), [true, false])
    await reopened.close()
  })
})
