import assert from 'node:assert/strict'
import { open, rm, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { collect, compressibleBlock, flipByte, putAll, randomBlock, TestRepo } from './helpers.ts'

describe('verifyAll', () => {
  let repo: TestRepo
  beforeEach(async () => { repo = await TestRepo.create() })
  afterEach(async () => { await repo.cleanup() })

  it('yields one ok result per indexed block of a healthy store, with progress', async () => {
    const store = await repo.open({ limits: { packTargetSize: 50_000 } })
    const blocks = Array.from({ length: 30 }, (_, i) => i % 3 === 0 ? compressibleBlock(9000) : randomBlock(9000))
    for (let i = 0; i < 30; i += 5) await putAll(store, blocks.slice(i, i + 5))
    await putAll(store, blocks.slice(0, 3)) // duplicates are not yielded twice
    const progress: Array<[number, number]> = []
    const results = await collect(store.verifyAll((done, total) => progress.push([done, total])))
    assert.equal(results.length, 30)
    assert.ok(results.every((r) => r.ok && r.error === undefined))
    assert.deepEqual(new Set(results.map((r) => r.cid.toString())), new Set(blocks.map((b) => b.cid.toString())))
    assert.deepEqual(progress.at(-1), [30, 30])
    await store.close()
  })

  it('names the CID of a block with a flipped byte, and passes the others', async () => {
    const store = await repo.open()
    const blocks = Array.from({ length: 10 }, () => randomBlock(4000))
    await putAll(store, blocks)
    await store.close()
    // records are written in put order: the body of block 4 ends 5 records before the end
    await flipByte(join(repo.packsDir, '00000001.pack'), -(5 * 4042) - 1)

    const reopened = await repo.open()
    const results = await collect(reopened.verifyAll())
    assert.equal(results.length, 10)
    const bad = results.filter((r) => !r.ok)
    assert.equal(bad.length, 1)
    assert.equal(bad[0].cid.toString(), blocks[4].cid.toString())
    assert.equal(bad[0].error, `block ${blocks[4].cid} is corrupt: its bytes do not match its hash`)
    await reopened.close()
  })

  it('reports every block whose index entry points past the end of its pack', async () => {
    const store = await repo.open()
    const blocks = Array.from({ length: 6 }, () => randomBlock(1000))
    await putAll(store, blocks)
    await store.close()
    const path = join(repo.packsDir, '00000001.pack')
    await truncate(path, 8 + 3 * 1042 + 500) // the disk lost the tail of the pack

    const reopened = await repo.open()
    const results = await collect(reopened.verifyAll())
    assert.equal(results.length, 6)
    assert.deepEqual(results.filter((r) => r.ok).map((r) => r.cid.toString()).sort(), blocks.slice(0, 3).map((b) => b.cid.toString()).sort())
    for (const b of blocks.slice(3)) {
      const result = results.find((r) => r.cid.equals(b.cid))!
      assert.equal(result.ok, false)
      assert.match(result.error!, new RegExp(`^block ${b.cid} is corrupt: its index entry points past the end of pack ${path}`))
    }
    await reopened.close()
  })

  it('still checks the blocks after a record whose header is damaged', async () => {
    const store = await repo.open()
    const blocks = Array.from({ length: 5 }, () => randomBlock(1000))
    await putAll(store, blocks)
    await store.close()
    // make the second record's length field absurd: the sequential scan stops there
    const handle = await open(join(repo.packsDir, '00000001.pack'), 'r+')
    await handle.write(Buffer.from([0xff, 0xff, 0xff, 0xff]), 0, 4, 8 + 1042)
    await handle.close()

    const reopened = await repo.open()
    const results = await collect(reopened.verifyAll())
    assert.equal(results.length, 5)
    assert.ok(results.every((r) => r.ok), 'every body is intact; pass 2 read them by their index entries')
    await reopened.close()
  })

  it('names the missing pack of blocks whose pack file is gone', async () => {
    const store = await repo.open()
    const b = randomBlock(1000)
    await putAll(store, [b])
    await store.close()
    const path = join(repo.packsDir, '00000001.pack')
    await rm(path)
    const reopened = await repo.open()
    const results = await collect(reopened.verifyAll())
    assert.deepEqual(results.map((r) => [r.cid.toString(), r.ok, r.error]), [[b.cid.toString(), false, `block ${b.cid} is corrupt: its pack ${path} is missing`]])
    await reopened.close()
  })
})
