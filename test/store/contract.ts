/**
 * The `BlockStore` contract (src/store/api.ts) as tests, registered for any store a harness
 * builds: the pack store and the in-memory stand-in the backup, restore and replication unit
 * tests run on must behave the same, or those tests prove nothing about the real one.
 *
 * Buffer ownership is part of the contract: `put` copies the caller's bytes before its promise is
 * returned, `get` hands out bytes the caller owns, and `verifyAll` yields CIDs that stay valid.
 * Each is tested by overwriting the buffer the way a caller reusing it would.
 */
import assert from 'node:assert/strict'
import * as raw from 'multiformats/codecs/raw'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { CorruptBlockError, MalformedError, MissingBlockError } from '../../src/errors.ts'
import { zstdCompressSync } from 'node:zlib'
import { BlockIntegrityError, jsonSublevel } from '../../src/store/index.ts'
import { FLAG_ZSTD } from '../../src/store/pack-format.ts'
import { proveStored } from '../../src/store/block-codec.ts'
import { encoderCounts } from '../../src/store/compression.ts'
import { MAX_BLOCK_SIZE } from '../../src/points/constants.ts'
import type { ProvedBlock, StoredBlock } from '../../src/store/api.ts'
import type { BlockStore } from '../../src/store/index.ts'
import type { StoreHarness, StoreKind } from '../helpers/store-harness.ts'
import { createStoreHarness } from '../helpers/store-harness.ts'
import { branchOf, encodingCases, seededRandom, text } from './encoding-cases.ts'
import type { EncodingCase } from './encoding-cases.ts'
import { block, collect, putAll } from './helpers.ts'
import type { Block } from './helpers.ts'

/** Every byte changed, so no stored copy can match the original by luck. */
function poison (bytes: Uint8Array): void {
  for (let i = 0; i < bytes.length; i++) bytes[i] ^= 0xff
}

function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/** What a reader reusing one buffer hands over: a view at an offset into a larger buffer. */
function viewInReadBuffer (bytes: Uint8Array): { view: Uint8Array, buffer: Uint8Array } {
  const buffer = new Uint8Array(bytes.length + 64)
  const view = buffer.subarray(32, 32 + bytes.length)
  view.set(bytes)
  return { view, buffer }
}

/** Reads every block back and rehashes the whole store: both must agree with the originals. */
async function assertStoredIntact (store: BlockStore, blocks: Block[]): Promise<void> {
  for (const b of blocks) {
    let got: Uint8Array
    try {
      got = await store.get(b.cid)
    } catch (err) {
      assert.fail(`block of ${b.bytes.length} bytes: ${(err as Error).message}`)
    }
    assert.ok(Buffer.from(got).equals(b.bytes), `block of ${b.bytes.length} bytes reads back different bytes`)
  }
  const failed = (await collect(store.verifyAll())).filter((r) => !r.ok)
  assert.deepEqual(failed.map((r) => r.error), [], 'verifyAll finds every stored block intact')
}

export function blockStoreContract (kind: StoreKind): void {
  describe(`BlockStore contract: ${kind} store`, { timeout: 120_000 }, () => {
    const cases: EncodingCase[] = encodingCases()
    let harness: StoreHarness
    beforeEach(async () => { harness = await createStoreHarness(kind) })
    afterEach(async () => { await harness.cleanup() })

    it('gives back every block byte for byte after a restart, whichever way it was encoded', async () => {
      const blocks = cases.map((c) => block(c.bytes))
      await putAll(harness.store, blocks)
      const store = await harness.reopen()
      await assertStoredIntact(store, blocks)
      for (const b of blocks) assert.equal(await store.size(b.cid), b.bytes.length)
    })

    it('says whether each put will be stored: once per block, within a writer, across writers, for puts issued together', async () => {
      const [a, b, c] = ['a', 'b', 'c'].map((s) => block(text(5000 + s.charCodeAt(0))))
      const first = harness.store.writer()
      assert.equal(await first.put(a.cid, a.bytes), true)
      assert.equal(await first.put(a.cid, a.bytes), false, 'pending in this writer')
      assert.deepEqual((await Promise.all([first.put(b.cid, b.bytes), first.put(b.cid, b.bytes)])).sort(), [false, true])
      await first.flush()
      assert.equal(await first.put(a.cid, a.bytes), false, 'flushed')
      const stats = await first.commit()
      assert.deepEqual({ blocks: stats.blocks, newBytes: stats.newBytes }, { blocks: 2, newBytes: a.bytes.length + b.bytes.length })
      const second = harness.store.writer()
      assert.equal(await second.put(a.cid, a.bytes), false, 'committed by another writer')
      assert.equal(await second.put(c.cid, c.bytes), true)
      assert.equal((await second.commit()).blocks, 1)
    })

    it('makes blocks visible once flushed, and commits index ops with the last of them', async () => {
      const a = block(seededRandom(1000, 'visible'))
      const writer = harness.store.writer()
      await writer.put(a.cid, a.bytes)
      assert.equal(await harness.store.has(a.cid), false)
      await writer.flush()
      assert.equal(await harness.store.has(a.cid), true)
      const b = block(seededRandom(1000, 'with ops'))
      await writer.put(b.cid, b.bytes)
      await writer.commit([{ type: 'put', sublevel: 'points', key: 'p1', value: { root: b.cid.toString() } }])
      assert.deepEqual(await jsonSublevel(harness.db, 'points').get('p1'), { root: b.cid.toString() })
      assert.equal(await harness.store.has(b.cid), true)
      await assert.rejects(writer.put(a.cid, a.bytes), /writer is closed/)
    })

    it('drops unflushed blocks on abort and keeps flushed ones', async () => {
      const [kept, dropped] = [block(seededRandom(700, 'kept')), block(seededRandom(700, 'dropped'))]
      const writer = harness.store.writer()
      await writer.put(kept.cid, kept.bytes)
      await writer.flush()
      await writer.put(dropped.cid, dropped.bytes)
      await writer.abort()
      assert.deepEqual(await harness.store.hasMany([kept.cid, dropped.cid]), [true, false])
      await assert.rejects(writer.put(dropped.cid, dropped.bytes), /writer is closed/)
    })

    it('answers has, hasMany and size for indexed blocks only, and names a missing block', async () => {
      const [a, b] = [block(text(300)), block(text(400))]
      await putAll(harness.store, [a])
      assert.deepEqual([await harness.store.has(a.cid), await harness.store.has(b.cid)], [true, false])
      assert.deepEqual(await harness.store.hasMany([b.cid, a.cid, a.cid]), [false, true, true])
      assert.deepEqual(await harness.store.hasMany([]), [])
      assert.deepEqual([await harness.store.size(a.cid), await harness.store.size(b.cid)], [300, undefined])
      await assert.rejects(harness.store.get(b.cid), (err: unknown) => err instanceof MissingBlockError && err.cid === b.cid.toString())
    })

    it('refuses a block whose CID is not sha2-256, which it could never rehash', async () => {
      const writer = harness.store.writer()
      const cid = CID.createV1(0x55, createDigest(0x13, new Uint8Array(64)))
      await assert.rejects(writer.put(cid, new Uint8Array(1)), MalformedError)
      await writer.abort()
    })

    it('lists every block with its size, and counts blocks and raw bytes', async () => {
      const blocks = [block(text(70_000)), block(seededRandom(5000, 'listed')), block(new Uint8Array(0))]
      await putAll(harness.store, blocks)
      const entries = await collect(harness.store.entries())
      assert.deepEqual(entries.map((e) => [e.cid.toString(), e.size]).sort(), blocks.map((b) => [b.cid.toString(), b.bytes.length]).sort())
      const stats = await harness.store.stats()
      assert.deepEqual({ blocks: stats.blocks, rawBytes: stats.rawBytes }, { blocks: 3, rawBytes: 75_000 })
    })

    it('rehashes in verifyAll and on get: a damaged copy is a CorruptBlockError naming its CID, is quarantined, the others pass', async () => {
      const blocks = [block(text(40_000)), block(seededRandom(40_000, 'victim')), block(text(9000))]
      await putAll(harness.store, blocks)
      for (const victim of blocks.slice(0, 2)) await harness.corrupt(victim.cid)
      const results = await collect(harness.store.verifyAll())
      assert.deepEqual(results.filter((r) => !r.ok).map((r) => r.cid.toString()).sort(), blocks.slice(0, 2).map((b) => b.cid.toString()).sort())
      assert.equal(results.length, 3)
      for (const victim of blocks.slice(0, 2)) {
        await assert.rejects(harness.store.get(victim.cid), (err: unknown) => err instanceof CorruptBlockError && err.cid === victim.cid.toString())
        assert.equal(await harness.store.has(victim.cid), false, 'a read that finds damage quarantines the block')
      }
      assert.deepEqual((await collect(harness.store.damaged())).map((d) => d.cid.toString()).sort(), blocks.slice(0, 2).map((b) => b.cid.toString()).sort())
      assert.deepEqual(Buffer.from(await harness.store.get(blocks[2].cid)), Buffer.from(blocks[2].bytes))
      const after = await collect(harness.store.verifyAll())
      assert.deepEqual(after.map((r) => [r.cid.toString(), r.ok]), [[blocks[2].cid.toString(), true]])
      // the good bytes heal them
      const writer = harness.store.writer()
      for (const b of blocks.slice(0, 2)) assert.equal(await writer.put(b.cid, b.bytes), true)
      assert.equal((await writer.commit()).healed, 2)
      assert.deepEqual(await collect(harness.store.damaged()), [])
      for (const b of blocks) assert.deepEqual(Buffer.from(await harness.store.get(b.cid)), Buffer.from(b.bytes))
    })

    it('hands out bytes from get that the caller owns: changing them changes nothing stored', async () => {
      const a = block(text(3000))
      await putAll(harness.store, [a])
      poison(await harness.store.get(a.cid))
      assert.ok(Buffer.from(await harness.store.get(a.cid)).equals(a.bytes))
    })

    it('yields CIDs from verifyAll that stay what they were after more blocks are scanned', async () => {
      // more than three of verifyAll's 8 MiB scan windows, so a reused window is read over
      const blocks = Array.from({ length: 420 }, (_, i) => block(seededRandom(64 * 1024, `window ${i}`)))
      for (let i = 0; i < blocks.length; i += 140) await putAll(harness.store, blocks.slice(i, i + 140))
      const results = await collect(harness.store.verifyAll())
      assert.ok(results.every((r) => r.ok))
      // every part of a CID, as a caller keeping the results would use it later (equals and
      // rehashing read the multihash, toString reads the bytes)
      const byString = new Map(blocks.map((b) => [b.cid.toString(), b.cid]))
      const changed = results.filter((r) => {
        const scanned = byString.get(r.cid.toString())
        return scanned === undefined || !r.cid.equals(scanned) || hex(r.cid.multihash.digest) !== hex(scanned.multihash.digest)
      })
      assert.equal(changed.length, 0, `${changed.length} of ${results.length} CIDs yielded by verifyAll changed after they were yielded`)
      assert.deepEqual(results.map((r) => r.cid.toString()).sort(), [...byString.keys()].sort())
    })

    describe('the stored form: getStored hands out a block as stored, putStored stores one as it came after proving it', () => {
      /** A zstd frame of `bytes` at a level the store never uses, so a recompression would show. */
      const frameOf = (bytes: Uint8Array): StoredBlock => ({ flags: FLAG_ZSTD, body: new Uint8Array(zstdCompressSync(bytes, { params: { 100: 19 } })), rawLength: bytes.length })

      it('gives back from getStored a body that decodes to the block, for every encoding case, and putStored takes it into another store', async () => {
        const blocks = cases.map((c) => block(c.bytes))
        await putAll(harness.store, blocks)
        const other = await createStoreHarness(kind)
        try {
          const writer = other.store.writer()
          for (const b of blocks) {
            const stored = await harness.store.getStored(b.cid)
            assert.equal(stored.rawLength, b.bytes.length)
            assert.equal(await harness.store.storedSize(b.cid), stored.body.length)
            if (harness.compresses && (await branchOf(b.bytes)) === 'compresses') assert.equal(stored.flags & FLAG_ZSTD, FLAG_ZSTD, 'a compressed block travels compressed')
            assert.equal(await writer.putStored(b.cid, stored), true)
          }
          await writer.commit()
          await assertStoredIntact(await other.reopen(), blocks)
        } finally {
          await other.cleanup()
        }
      })

      it('stores a body exactly as it came: a zstd frame of another level byte for byte, a compressible block given raw stays raw', async () => {
        const framed = block(text(50_000))
        const rawGiven = block(text(40_000 + 7))
        const stored = frameOf(framed.bytes)
        const writer = harness.store.writer()
        assert.equal(await writer.putStored(framed.cid, stored), true)
        assert.equal(await writer.putStored(rawGiven.cid, { flags: 0, body: rawGiven.bytes, rawLength: rawGiven.bytes.length }), true)
        await writer.commit()
        const store = await harness.reopen()
        await assertStoredIntact(store, [framed, rawGiven])
        if (harness.compresses) {
          const back = await store.getStored(framed.cid)
          assert.deepEqual([back.flags, hex(back.body)], [FLAG_ZSTD, hex(stored.body)], 'the frame is stored as it came')
          const sizes = new Map((await collect(store.entries())).map((e) => [e.cid.toString(), e.storedSize]))
          assert.equal(sizes.get(framed.cid.toString()), stored.body.length)
          assert.equal(sizes.get(rawGiven.cid.toString()), rawGiven.bytes.length, 'not recompressed')
        }
      })

      const refusals: Array<{ name: string, make: () => { cid: CID, stored: StoredBlock }, detail: RegExp }> = [
        { name: 'a zstd body with a flipped byte', make: () => { const b = block(text(30_000)); const s = frameOf(b.bytes); s.body[s.body.length >> 1] ^= 0x40; return { cid: b.cid, stored: s } }, detail: /does not decompress|do not match its hash|where/ },
        { name: 'a good zstd frame of other bytes', make: () => { const b = block(text(30_000)); return { cid: b.cid, stored: frameOf(text(30_001).subarray(1)) } }, detail: /do not match its hash/ },
        { name: 'a raw body with a flipped byte', make: () => { const b = block(seededRandom(9000, 'flip')); const body = b.bytes.slice(); body[4000] ^= 1; return { cid: b.cid, stored: { flags: 0, body, rawLength: body.length } } }, detail: /do not match its hash/ },
        { name: 'a zstd body that decompresses to more than its stated length', make: () => { const b = block(text(30_000)); return { cid: b.cid, stored: { ...frameOf(b.bytes), rawLength: 29_999 } } }, detail: /at most 29999 bytes/ },
        { name: 'a stated length over the block limit', make: () => { const big = new Uint8Array(MAX_BLOCK_SIZE + 1); const b = block(big); return { cid: b.cid, stored: frameOf(big) } }, detail: /outside 0 to/ },
        { name: 'a zstd body of two frames', make: () => { const b = block(text(30_000)); const [x, y] = [frameOf(b.bytes.subarray(0, 10_000)), frameOf(b.bytes.subarray(10_000))]; return { cid: b.cid, stored: { flags: FLAG_ZSTD, body: new Uint8Array(Buffer.concat([x.body, y.body])), rawLength: 30_000 } } }, detail: /bytes after its frame/ },
        { name: 'unknown record flags', make: () => { const b = block(text(100)); return { cid: b.cid, stored: { flags: 0x80, body: b.bytes, rawLength: 100 } } }, detail: /flags 0x80 are unknown/ }
      ]
      for (const r of refusals) {
        it(`refuses ${r.name} with BlockIntegrityError naming the CID, and stores nothing of the batch`, async () => {
          const good = block(text(20_000))
          const { cid, stored } = r.make()
          const writer = harness.store.writer()
          await writer.put(good.cid, good.bytes)
          const refused = (err: unknown): boolean => err instanceof BlockIntegrityError && err.cid === cid.toString() && r.detail.test(err.message)
          let failure: unknown
          try {
            await writer.putStored(cid, stored)
            await writer.commit()
          } catch (err) {
            failure = err
          }
          assert.ok(refused(failure), `refused: ${String(failure)}`)
          await assert.rejects(writer.commit(), refused, 'the writer refuses every later call')
          await writer.abort()
          assert.deepEqual(await harness.store.hasMany([cid, good.cid]), [false, false])
        })
      }

      it('proves a body given for a block it already holds, and refuses a false one', async () => {
        const b = block(text(25_000))
        await putAll(harness.store, [b])
        const good = harness.store.writer()
        assert.equal(await good.putStored(b.cid, frameOf(b.bytes)), false, 'already here')
        await good.commit()
        const bad = harness.store.writer()
        let failure: unknown
        try {
          await bad.putStored(b.cid, frameOf(text(25_001).subarray(1)))
          await bad.flush()
        } catch (err) {
          failure = err
        }
        assert.ok(failure instanceof BlockIntegrityError && failure.cid === b.cid.toString(), String(failure))
        await bad.abort()
        await assertStoredIntact(harness.store, [b])
      })

      for (const moment of ['as putStored returns its promise', 'once putStored resolves'] as const) {
        it(`copies the body before it returns: the buffer overwritten ${moment} changes nothing stored`, async () => {
          const blocks = [block(text(70_000)), block(seededRandom(20_000, 'stored raw')), block(text(40))]
          const writer = harness.store.writer()
          for (const b of blocks) {
            const stored = b.bytes.length > 1000 && b.bytes[0] !== b.bytes[1] && (await branchOf(b.bytes)) === 'compresses' ? frameOf(b.bytes) : { flags: 0, body: b.bytes, rawLength: b.bytes.length }
            const { view, buffer } = viewInReadBuffer(stored.body)
            const put = writer.putStored(b.cid, { ...stored, body: view })
            if (moment === 'as putStored returns its promise') poison(buffer)
            assert.equal(await put, true)
            if (moment === 'once putStored resolves') poison(buffer)
          }
          await writer.commit()
          await assertStoredIntact(await harness.reopen(), blocks)
        })
      }

      describe('a body proved before (proveStored): putProved stores the very copy that was proved, and proves nothing again', () => {
        const provedOf = async (cid: CID, stored: StoredBlock): Promise<ProvedBlock> => {
          const proof = await proveStored(cid, stored)
          assert.ok('proved' in proof, `proved: ${JSON.stringify(proof)}`)
          return proof.proved
        }

        it('stores each body as it came after exactly one proof per block on the encoder: none in putProved, no encoding either', async () => {
          const framed = block(text(50_000))
          const rawGiven = block(text(40_000 + 9))
          const empty = block(new Uint8Array(0))
          const given: Array<[Block, StoredBlock]> = [[framed, frameOf(framed.bytes)], [rawGiven, { flags: 0, body: rawGiven.bytes, rawLength: rawGiven.bytes.length }], [empty, { flags: 0, body: empty.bytes, rawLength: 0 }]]
          const before = encoderCounts()
          const proved = []
          for (const [b, stored] of given) proved.push(await provedOf(b.cid, stored))
          const writer = harness.store.writer()
          for (const p of proved) assert.equal(await writer.putProved(p), true)
          await writer.commit()
          assert.deepEqual(encoderCounts(), { encoded: before.encoded, proved: before.proved + given.length }, 'one proof per block, no more')
          const store = await harness.reopen()
          await assertStoredIntact(store, given.map(([b]) => b))
          if (harness.compresses) {
            const back = await store.getStored(framed.cid)
            assert.deepEqual([back.flags, hex(back.body)], [FLAG_ZSTD, hex(given[0][1].body)], 'the frame is stored as it came')
            assert.equal((await store.getStored(rawGiven.cid)).flags, 0, 'a raw body stays raw')
          }
        })

        for (const moment of ['as proveStored returns its promise', 'once proveStored resolves', 'once putProved resolves'] as const) {
          it(`stores the store's own proved copy: the caller's buffer overwritten ${moment} changes nothing stored`, async () => {
            const blocks = [block(text(70_000)), block(seededRandom(20_000, 'proved raw')), block(text(40))]
            const writer = harness.store.writer()
            for (const b of blocks) {
              const stored = b.bytes.length > 1000 && (await branchOf(b.bytes)) === 'compresses' ? frameOf(b.bytes) : { flags: 0, body: b.bytes, rawLength: b.bytes.length }
              const { view, buffer } = viewInReadBuffer(stored.body)
              const proving = proveStored(b.cid, { ...stored, body: view })
              if (moment === 'as proveStored returns its promise') poison(buffer)
              const proof = await proving
              assert.ok('proved' in proof)
              if (moment === 'once proveStored resolves') poison(buffer)
              assert.ok(Object.isFrozen(proof.proved) && !Object.values(proof.proved).some((v) => v instanceof Uint8Array), 'the holder gets no bytes it could change')
              assert.equal(await writer.putProved(proof.proved), true)
              if (moment === 'once putProved resolves') poison(buffer)
            }
            await writer.commit()
            await assertStoredIntact(await harness.reopen(), blocks)
          })
        }

        it('a block already here or pending is not stored again (its copy is dropped), and a proved copy is stored once: a second putProved, or one after release, throws', async () => {
          const here = block(text(25_000))
          const fresh = block(text(26_000))
          await putAll(harness.store, [here])
          const writer = harness.store.writer()
          assert.equal(await writer.putProved(await provedOf(here.cid, frameOf(here.bytes))), false, 'already here')
          const once = await provedOf(fresh.cid, frameOf(fresh.bytes))
          assert.equal(await writer.putProved(once), true)
          assert.equal(await writer.putProved(await provedOf(fresh.cid, frameOf(fresh.bytes))), false, 'pending in this writer')
          await assert.rejects(writer.putProved(once), /stored or released already/)
          const released = await provedOf(fresh.cid, frameOf(fresh.bytes))
          released.release()
          released.release()
          await assert.rejects(writer.putProved(released), /stored or released already/)
          await writer.commit()
          await assertStoredIntact(await harness.reopen(), [here, fresh])
        })

        it('refuses a false body at proveStored with the reason, handing out nothing to store', async () => {
          const b = block(text(30_000))
          const flipped = frameOf(b.bytes)
          flipped.body[flipped.body.length >> 1] ^= 0x40
          for (const stored of [flipped, frameOf(text(30_001).subarray(1)), { ...frameOf(b.bytes), rawLength: 29_999 }]) {
            const proof = await proveStored(b.cid, stored)
            assert.ok('problem' in proof && /does not decompress|do not match its hash|at most 29999 bytes|where/.test(proof.problem), JSON.stringify(proof))
          }
          assert.equal(await harness.store.has(b.cid), false)
        })
      })

      it('proves the copy on getStored: a damaged one is a CorruptBlockError naming its CID and is quarantined', async () => {
        const victim = block(text(40_000))
        await putAll(harness.store, [victim])
        await harness.corrupt(victim.cid)
        await assert.rejects(harness.store.getStored(victim.cid), (err: unknown) => err instanceof CorruptBlockError && err.cid === victim.cid.toString())
        assert.equal(await harness.store.has(victim.cid), false)
        const owned = await (async () => { const b = block(text(3000)); await putAll(harness.store, [b]); return b })()
        poison((await harness.store.getStored(owned.cid)).body)
        assert.ok(Buffer.from(await harness.store.get(owned.cid)).equals(owned.bytes), 'the caller owns the body it gets')
      })
    })

    describe('getStoredMany: many blocks in their stored form, neighbours in a pack read together', () => {
      /** A point's worth of small blocks of every kind, some compressible, some not. */
      const many = (): Block[] => Array.from({ length: 120 }, (_, i) => block(i % 10 === 0 ? text(40_000 + i) : i % 3 === 0 ? seededRandom(1000 + i * 37, `many-${i}`) : text(2000 + i * 53)))

      it('gives what getStored gives for each block, in the order asked or in the store\'s order, a block not here as MissingBlockError in its place', async () => {
        const blocks = many()
        await putAll(harness.store, blocks)
        const absent = block(text(777)).cid
        // asked out of the order they were written, an absent block among them
        const asked = [...blocks.slice(60), absent, ...blocks.slice(0, 60)].map(b => 'cid' in b ? b.cid : b)
        const given = await collect(harness.store.getStoredMany(asked))
        assert.deepEqual(given.map(r => r.cid.toString()), asked.map(c => c.toString()), 'in the order asked')
        for (const read of given) {
          if (read.cid.equals(absent)) {
            assert.ok(read.error instanceof MissingBlockError, 'the absent block is a MissingBlockError')
            continue
          }
          assert.equal(read.error, undefined)
          const alone = await harness.store.getStored(read.cid)
          assert.deepEqual([read.stored!.flags, read.stored!.rawLength, hex(read.stored!.body)], [alone.flags, alone.rawLength, hex(alone.body)])
        }
        const inStore = await collect(harness.store.getStoredMany(asked, { order: 'store' }))
        assert.deepEqual(inStore.map(r => r.cid.toString()).sort(), asked.map(c => c.toString()).sort(), 'every block once in the store\'s order')
        assert.ok(inStore.at(-1)!.cid.equals(absent), 'the block not here comes last')
        if (harness.kind !== 'memory') {
          assert.deepEqual(inStore.slice(0, -1).map(r => r.cid.toString()), blocks.map(b => b.cid.toString()), 'the store\'s order is the order they were written')
        }
      })

      it('a damaged block among its neighbours, small or large, is a CorruptBlockError naming it and is quarantined; the neighbours read from the same run are intact', async () => {
        const blocks = many()
        await putAll(harness.store, blocks)
        const victims = [blocks[52], blocks[60]]
        assert.ok(victims[0].bytes.length < 16 * 1024 && victims[1].bytes.length > 16 * 1024)
        for (const victim of victims) await harness.corrupt(victim.cid)
        const reads = await collect(harness.store.getStoredMany(blocks.map(b => b.cid)))
        const bad = reads.filter(r => r.error !== undefined)
        assert.deepEqual(bad.map(r => r.cid.toString()), victims.map(v => v.cid.toString()))
        for (const [i, victim] of victims.entries()) {
          assert.ok(bad[i].error instanceof CorruptBlockError && bad[i].error.cid === victim.cid.toString())
          assert.equal(await harness.store.has(victim.cid), false, 'quarantined, as getStored does')
        }
        // a neighbour's body passes another store's proof
        const neighbour = reads[53]
        const copy = await createStoreHarness(kind)
        try {
          const writer = copy.store.writer()
          assert.equal(await writer.putStored(neighbour.cid, neighbour.stored!), true)
          await writer.commit()
        } finally {
          await copy.cleanup()
        }
        const intact = new Map(blocks.map(b => [b.cid.toString(), b.bytes]))
        for (const read of reads.filter(r => r.error === undefined)) {
          const back = await harness.store.get(read.cid)
          assert.ok(Buffer.from(back).equals(intact.get(read.cid.toString())!))
        }
      })

      it('hands out bodies the caller owns: changing one changes neither the store nor the bodies read with it', async () => {
        const blocks = many()
        await putAll(harness.store, blocks)
        const first = await collect(harness.store.getStoredMany(blocks.map(b => b.cid)))
        const expected = first.map(r => hex(r.stored!.body))
        const reader = harness.store.getStoredMany(blocks.map(b => b.cid))[Symbol.asyncIterator]()
        const got: string[] = []
        for (let next = await reader.next(); next.done !== true; next = await reader.next()) {
          got.push(hex(next.value.stored!.body))
          poison(next.value.stored!.body) // as a caller reusing what it was given would
        }
        assert.deepEqual(got, expected, 'each body read intact although the ones before it were overwritten')
        await assertStoredIntact(harness.store, blocks)
      })
    })

    describe('put copies the caller\'s bytes before it returns: the caller may reuse its buffer at once', () => {
      it('takes every block the way its encoding case says (the cases exercise every branch)', async () => {
        for (const c of cases) assert.equal(await branchOf(c.bytes), c.branch, c.name)
      })

      for (const moment of ['as put returns its promise', 'once put resolves'] as const) {
        for (const c of cases) {
          it(`${c.name} (${c.branch}), buffer overwritten ${moment}`, async () => {
            const original = block(c.bytes)
            const { view, buffer } = viewInReadBuffer(c.bytes)
            const writer = harness.store.writer()
            const put = writer.put(original.cid, view)
            if (moment === 'as put returns its promise') poison(buffer)
            assert.equal(await put, true)
            if (moment === 'once put resolves') poison(buffer)
            await writer.commit()
            const store = await harness.reopen()
            await assertStoredIntact(store, [original])
            if (harness.compresses) {
              const [entry] = await collect(store.entries())
              if (c.branch === 'compresses') assert.ok(entry.storedSize < c.bytes.length, `stored in ${entry.storedSize} bytes`)
              else assert.equal(entry.storedSize, c.bytes.length, 'kept as it is')
            }
          })
        }
      }

      for (const c of cases) {
        it(`add names ${c.name} (${c.branch}) by the bytes it was given, though the buffer is overwritten as it returns`, async () => {
          const original = block(c.bytes)
          const { view, buffer } = viewInReadBuffer(c.bytes)
          const writer = harness.store.writer()
          const added = writer.add(raw.code, view)
          poison(buffer)
          const { cid, added: isNew } = await added
          assert.equal(cid.toString(), original.cid.toString())
          assert.equal(isNew, true)
          assert.deepEqual(await writer.add(raw.code, c.bytes), { cid, added: false }, 'the same bytes again: a duplicate')
          await writer.commit()
          await assertStoredIntact(await harness.reopen(), [original])
        })
      }

      it('stores a stream of blocks of every kind put through one reused read buffer, as backup does', async () => {
        const buffer = new Uint8Array(Math.max(...cases.map((c) => c.bytes.length)))
        const blocks: Block[] = []
        const writer = harness.store.writer()
        for (const c of cases) {
          const view = buffer.subarray(0, c.bytes.length)
          view.set(c.bytes)
          const b = block(c.bytes)
          assert.equal(await writer.put(b.cid, view), true)
          blocks.push(b)
          buffer.fill(0xa5) // the next read lands here
        }
        await writer.commit()
        await assertStoredIntact(await harness.reopen(), blocks)
      })
    })
  })
}
