import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { MAX_BLOCK_SIZE } from '../../src/points/constants.ts'
import { rebuildBlockIndex } from '../../src/store/index.ts'
import { unzstd } from '../../src/store/compression.ts'
import { seededRandom, text } from './encoding-cases.ts'
import { block, collect, putAll, TestRepo, zstd } from './helpers.ts'

/**
 * Store functions other than `BlockStore` (see contract.ts) that take or hand out buffers: each
 * is held to what it says about who owns them, by overwriting the buffer as a caller reusing it
 * would.
 */
describe('buffer ownership in the store', { timeout: 60_000 }, () => {
  it('the encoder copies its input before it returns: a caller may reuse the buffer while the worker hashes and compresses', async () => {
    const inputs = [new Uint8Array(64).fill(7), text(8191), text(64 * 1024), text(MAX_BLOCK_SIZE)]
    const reused = new Uint8Array(MAX_BLOCK_SIZE)
    // several calls queue into one batch before it goes to a worker: each lands in the same buffer
    const frames = inputs.map((bytes) => {
      const view = reused.subarray(0, bytes.length)
      view.set(bytes)
      const frame = zstd(view)
      reused.fill(0x5a)
      return frame
    })
    for (let i = 0; i < inputs.length; i++) {
      const frame = await frames[i]
      assert.ok(frame !== undefined, `${inputs[i].length} bytes compress`)
      assert.ok(Buffer.from(await unzstd(frame, inputs[i].length)).equals(inputs[i]), `the frame of ${inputs[i].length} bytes holds what was given`)
    }
  })

  describe('rebuildBlockIndex', () => {
    let repo: TestRepo
    beforeEach(async () => { repo = await TestRepo.create() })
    afterEach(async () => { await repo.cleanup() })

    it('indexes every block of a pack longer than its reused scan windows under the right CID', async () => {
      // about 26 MiB in one pack: more than three 8 MiB scan windows, fewer records than one index batch
      const blocks = Array.from({ length: 400 }, (_, i) => block(i % 4 === 0 ? text(64 * 1024 + i) : seededRandom(64 * 1024, `rebuild ${i}`)))
      const store = await repo.open()
      for (let i = 0; i < blocks.length; i += 100) await putAll(store, blocks.slice(i, i + 100))
      await store.close()
      await repo.db.clear()

      const result = await rebuildBlockIndex({ dir: repo.packsDir, db: repo.db })
      assert.deepEqual({ blocks: result.blocks, corrupt: result.corrupt }, { blocks: 400, corrupt: [] })
      const reopened = await repo.open()
      try {
        const present = await reopened.hasMany(blocks.map((b) => b.cid))
        assert.equal(present.filter((p) => !p).length, 0, 'blocks the rebuilt index does not know')
        for (const b of blocks) assert.ok(Buffer.from(await reopened.get(b.cid)).equals(b.bytes))
        assert.ok((await collect(reopened.verifyAll())).every((r) => r.ok))
      } finally {
        await reopened.close()
      }
    })
  })
})
