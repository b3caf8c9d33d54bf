/**
 * Garbage collection in the store (src/store/collection.ts, docs/retention.md): the live set's
 * Bloom filter, what a plan frees, and the writers a collection must never race.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { BloomFilter } from '../../src/store/bloom.ts'
import type { BlockStore } from '../../src/store/index.ts'
import { readFile } from 'node:fs/promises'
import { zstdCompressSync } from 'node:zlib'
import { FLAG_ZSTD } from '../../src/store/pack-format.ts'
import type { StoredBlock } from '../../src/store/index.ts'
import { block, putAll, randomBlock, TestRepo, collect } from './helpers.ts'
import type { Block } from './helpers.ts'

const KiB = 1024
/** raw blocks only: nothing links to anything */
const RAW = { hasLinks: () => false, links: () => [] }

describe('the live set', { timeout: 30_000 }, () => {
  it('never takes a live block for dead, and takes about 1 dead block in 10 000 for live', () => {
    const filter = new BloomFilter(50_000)
    const live = Array.from({ length: 50_000 }, () => randomBlock(8).cid.bytes)
    for (const cid of live) filter.add(cid)
    for (const cid of live) assert.equal(filter.has(cid), true)
    let positives = 0
    const trials = 200_000
    for (let i = 0; i < trials; i++) if (filter.has(randomBlock(8).cid.bytes)) positives++
    assert.ok(positives / trials < 4e-4, `false positive rate ${positives / trials}`)
  })
})

describe('a collection in the store', { timeout: 60_000 }, () => {
  let repo: TestRepo
  let store: BlockStore
  let live: Block[]
  let dead: Block[]

  before(async () => {
    repo = await TestRepo.create()
    store = await repo.open({ limits: { packTargetSize: 96 * KiB, flushBlocks: 4, flushBytes: 64 * KiB } })
    live = Array.from({ length: 12 }, () => randomBlock(20 * KiB))
    dead = Array.from({ length: 24 }, () => randomBlock(20 * KiB))
    // interleaved, so that packs hold both
    const all = [...live, ...dead].sort(() => Math.random() - 0.5)
    for (let i = 0; i < all.length; i += 6) await putAll(store, all.slice(i, i + 6))
  })
  after(async () => {
    await store?.close()
    await repo?.cleanup()
  })

  it('plans without changing anything, then frees every dead block and keeps every live one', async () => {
    const before = await store.stats()
    const collection = await store.collect(RAW)
    try {
      await collection.mark(live.map(b => b.cid))
      const plan = await collection.plan({ maxUnused: 0 })
      assert.equal(plan.deadBlocks, dead.length)
      assert.equal(plan.liveBlocks, live.length)
      assert.ok(plan.remove.length + plan.rewrite.length > 0)
      assert.deepEqual(await store.stats(), before, 'a plan changes nothing (prune --dry-run)')
      const swept = await collection.sweep(plan)
      assert.equal(swept.blocksRemoved, dead.length)
      assert.ok(swept.bytesFreed >= dead.length * 20 * KiB * 0.95, `freed ${swept.bytesFreed}`)
    } finally {
      await collection.end()
    }
    for (const b of live) assert.ok(Buffer.from(await store.get(b.cid)).equals(b.bytes))
    assert.deepEqual(await store.hasMany(dead.map(b => b.cid)), dead.map(() => false))
    const after = await store.stats()
    assert.ok(after.packBytes < before.packBytes - dead.length * 20 * KiB * 0.95, `pack bytes ${before.packBytes} -> ${after.packBytes}`)
    for await (const r of store.verifyAll()) assert.equal(r.ok, true, `${r.cid}: ${r.error}`)
  })

  it('keeps what the store reports present during the collection, and what a writer stores meanwhile, though nobody marked them', async () => {
    const found = Array.from({ length: 4 }, () => randomBlock(16 * KiB))
    await putAll(store, found)
    const collection = await store.collect(RAW)
    let late: Block[] = []
    try {
      // a source asked "have?": the answer yes makes them live
      assert.deepEqual(await store.hasMany(found.map(b => b.cid)), [true, true, true, true])
      late = Array.from({ length: 3 }, () => randomBlock(16 * KiB))
      await putAll(store, late)
      await collection.mark(live.map(b => b.cid))
      const plan = await collection.plan({ maxUnused: 0 })
      assert.equal(plan.deadBlocks, 0)
      await collection.sweep(plan)
    } finally {
      await collection.end()
    }
    for (const b of [...found, ...late]) assert.ok(Buffer.from(await store.get(b.cid)).equals(b.bytes))
    live.push(...found, ...late)
  })

  it('keeps blocks stored in their stored form during the collection, and those read or proved present in it', async () => {
    // real data: code from this machine's node binary, stored as zstd frames made here
    const binary = await readFile(process.execPath)
    const slices = Array.from({ length: 5 }, (_, i) => block(new Uint8Array(binary.subarray(2_000_000 + i * 30_000, 2_000_000 + i * 30_000 + 16 * KiB))))
    const storedForm = (b: Block): StoredBlock => ({ flags: FLAG_ZSTD, body: new Uint8Array(zstdCompressSync(b.bytes)), rawLength: b.bytes.length })
    // here before the collection, nobody marks them: a stored body proved for one, a stored read of another
    const [proved, read, ...late] = slices
    const readTogether = Array.from({ length: 2 }, (_, i) => block(new Uint8Array(binary.subarray(3_000_000 + i * 20_000, 3_000_000 + i * 20_000 + 8 * KiB))))
    await putAll(store, [proved, read, ...readTogether])
    const collection = await store.collect(RAW)
    try {
      const writer = store.writer()
      assert.equal(await writer.putStored(proved.cid, storedForm(proved)), false, 'a dedup hit')
      for (const b of late) assert.equal(await writer.putStored(b.cid, storedForm(b)), true)
      await writer.commit()
      assert.equal((await store.getStored(read.cid)).rawLength, read.bytes.length)
      // and two read together, as a sender reads a batch
      const many = await collect(store.getStoredMany(readTogether.map(b => b.cid), { order: 'store' }))
      assert.deepEqual(many.map(r => r.stored?.rawLength), readTogether.map(b => b.bytes.length))
      await collection.mark(live.map(b => b.cid))
      const plan = await collection.plan({ maxUnused: 0 })
      assert.equal(plan.deadBlocks, 0)
      await collection.sweep(plan)
    } finally {
      await collection.end()
    }
    for (const b of [...slices, ...readTogether]) assert.ok(Buffer.from(await store.get(b.cid)).equals(b.bytes))
    live.push(...slices, ...readTogether)
  })

  it('waits for a writer opened before it, and keeps what that writer stored', async () => {
    const writer = store.writer()
    const pending = randomBlock(16 * KiB)
    await writer.put(pending.cid, pending.bytes)
    let waited = 0
    const collecting = store.collect({ ...RAW, onWait: n => { waited = n } })
    await new Promise(resolve => setTimeout(resolve, 50))
    assert.equal(waited, 1, 'the collection says it waits for one writer')
    await writer.commit()
    const collection = await collecting
    try {
      await collection.mark(live.map(b => b.cid))
      const plan = await collection.plan({ maxUnused: 0 })
      assert.equal(plan.deadBlocks, 0)
      await collection.sweep(plan)
    } finally {
      await collection.end()
    }
    assert.ok(Buffer.from(await store.get(pending.cid)).equals(pending.bytes))
  })
})
