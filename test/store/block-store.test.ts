import assert from 'node:assert/strict'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { CorruptBlockError, MalformedError, MissingBlockError, isExpectedError } from '../../src/errors.ts'
import { block, collect, compressibleBlock, flipByte, putAll, randomBlock, TestRepo } from './helpers.ts'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { openPackFile } from '../../src/store/pack-files.ts'

describe('block store', () => {
  let repo: TestRepo
  beforeEach(async () => { repo = await TestRepo.create() })
  afterEach(async () => { await repo.cleanup() })

  it('gives back every block it stored, byte for byte', async () => {
    const store = await repo.open()
    const blocks = [
      randomBlock(64 * 1024), compressibleBlock(200_000), randomBlock(1), block(new Uint8Array(0)),
      compressibleBlock(63), randomBlock(1024 * 1024 - 1)
    ]
    await putAll(store, blocks)
    for (const b of blocks) {
      assert.deepEqual(new Uint8Array(await store.get(b.cid)), b.bytes)
      assert.equal(await store.size(b.cid), b.bytes.length)
    }
    await store.close()
  })

  it('getStoredMany reads neighbours in a pack with one read: 300 small blocks in a few reads, each body the one getStored gives', async () => {
    let reads = 0
    const store = await repo.open({
      openFile: async (path, flags) => {
        const real = await openPackFile(path, flags)
        return {
          writev: async (buffers, position) => await real.writev(buffers, position),
          datasync: async () => await real.datasync(),
          read: async (...args) => { reads++; return await real.read(...args) },
          truncate: async (length) => await real.truncate(length),
          close: async () => await real.close()
        }
      }
    })
    const blocks = Array.from({ length: 300 }, (_, i) => i % 2 === 0 ? randomBlock(3000 + i) : compressibleBlock(5000 + i))
    await putAll(store, blocks)
    reads = 0
    // asked in reverse: in the store's order the reads are sequential all the same
    const many = await collect(store.getStoredMany(blocks.map(b => b.cid).reverse(), { order: 'store' }))
    const batched = reads
    assert.equal(many.length, 300)
    assert.ok(batched <= 4, `300 blocks of about 4 KiB (1.2 MB) in ${batched} reads`)
    reads = 0
    for (const read of many) {
      const alone = await store.getStored(read.cid)
      assert.deepEqual(Buffer.from(read.stored!.body), Buffer.from(alone.body))
    }
    assert.equal(reads, 300, 'getStored reads each block alone')
    await store.close()
  })

  it('keeps blocks across a restart', async () => {
    const blocks = [randomBlock(10_000), compressibleBlock(50_000)]
    let store = await repo.open()
    await putAll(store, blocks)
    await store.close()
    await repo.reopenDb()
    store = await repo.open()
    for (const b of blocks) assert.deepEqual(new Uint8Array(await store.get(b.cid)), b.bytes)
    await store.close()
  })

  it('answers has and hasMany only for indexed blocks', async () => {
    const store = await repo.open()
    const [a, b, c] = [randomBlock(100), randomBlock(200), randomBlock(300)]
    await putAll(store, [a, c])
    assert.equal(await store.has(a.cid), true)
    assert.equal(await store.has(b.cid), false)
    assert.deepEqual(await store.hasMany([a.cid, b.cid, c.cid, a.cid]), [true, false, true, true])
    assert.deepEqual(await store.hasMany([]), [])
    assert.equal(await store.size(b.cid), undefined)
    await store.close()
  })

  it('throws MissingBlockError naming the CID of a block it does not hold', async () => {
    const store = await repo.open()
    const b = randomBlock(10)
    await assert.rejects(store.get(b.cid), (err: unknown) => {
      assert.ok(err instanceof MissingBlockError && isExpectedError(err))
      assert.equal(err.cid, b.cid.toString())
      assert.match(err.message, new RegExp(b.cid.toString()))
      return true
    })
    await store.close()
  })

  it('rehashes on read: a flipped byte in a pack is a CorruptBlockError naming the CID', async () => {
    const store = await repo.open()
    const victim = randomBlock(4096)
    const bystander = randomBlock(4096)
    await putAll(store, [bystander, victim])
    await store.close()
    await flipByte(join(repo.packsDir, '00000001.pack'), -100)

    const reopened = await repo.open()
    assert.deepEqual(new Uint8Array(await reopened.get(bystander.cid)), bystander.bytes)
    await assert.rejects(reopened.get(victim.cid), (err: unknown) => {
      assert.ok(err instanceof CorruptBlockError)
      assert.equal(err.cid, victim.cid.toString())
      assert.equal(err.message, `block ${victim.cid} is corrupt: its bytes do not match its hash`)
      return true
    })
    await reopened.close()
  })

  it('reports a corrupted compressed body as corrupt, not as a zstd error', async () => {
    const store = await repo.open()
    const b = compressibleBlock(100_000)
    await putAll(store, [b])
    await store.close()
    const path = join(repo.packsDir, '00000001.pack')
    await flipByte(path, -20)
    const reopened = await repo.open()
    await assert.rejects(reopened.get(b.cid), (err: unknown) => err instanceof CorruptBlockError && err.cid === b.cid.toString())
    await reopened.close()
  })

  it('refuses blocks whose CID is not sha2-256, which it could never verify', async () => {
    const store = await repo.open()
    const writer = store.writer()
    const cid = CID.createV1(0x55, createDigest(0x13, new Uint8Array(64)))
    await assert.rejects(writer.put(cid, new Uint8Array(1)), MalformedError)
    await writer.abort()
    await store.close()
  })

  it('lists every indexed block with its sizes', async () => {
    const store = await repo.open()
    const blocks = [randomBlock(1000), compressibleBlock(100_000), randomBlock(5)]
    await putAll(store, blocks)
    const entries = await collect(store.entries())
    assert.equal(entries.length, 3)
    for (const b of blocks) {
      const entry = entries.find((e) => e.cid.equals(b.cid))
      assert.ok(entry !== undefined)
      assert.equal(entry.size, b.bytes.length)
    }
    const compressed = entries.find((e) => e.cid.equals(blocks[1].cid))!
    assert.ok(compressed.storedSize < 10_000, `compressible block stored in ${compressed.storedSize} bytes`)
    const incompressible = entries.find((e) => e.cid.equals(blocks[0].cid))!
    assert.equal(incompressible.storedSize, 1000)
    await store.close()
  })

  it('counts blocks, raw and stored bytes, packs and pack bytes in stats', async () => {
    const store = await repo.open()
    assert.deepEqual(await store.stats(), { blocks: 0, rawBytes: 0, storedBytes: 0, packs: 0, packBytes: 0 })
    const random = randomBlock(50_000)
    const compressible = compressibleBlock(50_000)
    const writer = store.writer()
    await writer.put(random.cid, random.bytes)
    await writer.put(compressible.cid, compressible.bytes)
    const written = await writer.commit()
    await putAll(store, [random]) // a duplicate changes nothing

    const stats = await store.stats()
    assert.equal(stats.blocks, 2)
    assert.equal(stats.rawBytes, 100_000)
    assert.ok(stats.storedBytes > 50_000 && stats.storedBytes < 60_000, `storedBytes ${stats.storedBytes}`)
    assert.equal(stats.packs, 1)
    const files = await readdir(repo.packsDir)
    assert.deepEqual(files, ['00000001.pack'])
    assert.equal(stats.packBytes, (await stat(join(repo.packsDir, files[0]))).size)
    // the pack holds the 8-byte header and two records of 6 + 36 header bytes each
    assert.equal(stats.packBytes, 8 + stats.storedBytes + 2 * 42)
    assert.equal(written.storedBytes, stats.storedBytes + 2 * 42)
    assert.deepEqual({ blocks: written.blocks, newBytes: written.newBytes }, { blocks: 2, newBytes: 100_000 })
    await store.close()
  })

  it('rolls over to a new pack when the current one reaches its target size', async () => {
    const store = await repo.open({ limits: { packTargetSize: 100_000, flushBlocks: 4 } })
    const blocks = Array.from({ length: 40 }, () => randomBlock(10_000))
    await putAll(store, blocks)
    const files = await readdir(repo.packsDir)
    assert.ok(files.length >= 4, `${files.length} packs`)
    for (const name of files) assert.ok((await stat(join(repo.packsDir, name))).size <= 100_000)
    for (const b of blocks) assert.deepEqual(new Uint8Array(await store.get(b.cid)), b.bytes)
    await store.close()
  })

  it('lets the next writer append to a pack a finished writer left room in', async () => {
    const store = await repo.open()
    await putAll(store, [randomBlock(1000)])
    await putAll(store, [randomBlock(1000)])
    assert.deepEqual(await readdir(repo.packsDir), ['00000001.pack'])
    await store.close()
  })
})
