import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { rawCid } from '../../src/points/blocks.ts'
import { zstdCompressSync } from 'node:zlib'
import { CorruptBlockError } from '../../src/errors.ts'
import { BlockIntake } from '../../src/replication/block-intake.ts'
import type { IntakeQuota } from '../../src/replication/block-intake.ts'
import { FLAG_ZSTD } from '../../src/store/pack-format.ts'
import { TenantBlocks } from '../../src/tenants/index.ts'
import type { BlockWriter } from '../../src/store/api.ts'
import type { RootDb } from '../../src/store/sublevels.ts'
import { MemoryBlockStore } from '../helpers/memory-store.ts'

/** A store whose writers' flushes wait until the test opens the gate. */
class GatedStore extends MemoryBlockStore {
  flushes = 0
  #open: () => void = () => {}
  readonly #gate = new Promise<void>(resolve => { this.#open = resolve })

  open (): void {
    this.#open()
  }

  override writer (): BlockWriter {
    const inner = super.writer()
    return {
      add: async (codec, bytes) => await inner.add(codec, bytes),
      put: async (cid, bytes) => await inner.put(cid, bytes),
      putStored: async (cid, stored) => await inner.putStored(cid, stored),
      putProved: async (proved) => await inner.putProved(proved),
      flush: async () => {
        this.flushes++
        await this.#gate
        await inner.flush()
      },
      commit: async (ops) => await inner.commit(ops),
      abort: async () => { await inner.abort() },
      get stats () { return inner.stats }
    }
  }
}

/** Distinct 400-byte blocks (text: what they hold does not matter here, only their size). */
function block (i: number): { cid: ReturnType<typeof rawCid>, bytes: Uint8Array } {
  const bytes = new TextEncoder().encode(`block ${String(i).padStart(6, '0')}    `.repeat(25))
  return { cid: rawCid(bytes), bytes }
}

/** Whether `promise` settles within a few turns of the event loop. */
async function settlesSoon (promise: Promise<unknown>): Promise<boolean> {
  let settled = false
  promise.then(() => { settled = true }, () => { settled = true })
  await new Promise(resolve => setTimeout(resolve, 50))
  return settled
}

describe('BlockIntake bounds what a kill -9 can lose to two flushes', { timeout: 20_000 }, () => {
  let dir: string
  let db: RootDb
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'drcore-intake-'))
    db = new Level(dir)
    await db.open()
  })
  after(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })

  test('while a flush runs, puts queue up to flushBytes behind it, then wait for it', async () => {
    const store = new GatedStore()
    const intake = new BlockIntake(store, new TenantBlocks(db, store), 'peer', { flushBytes: 1000, flushIntervalMs: 3_600_000 })
    // 3 × 400 bytes reach flushBytes: the third put starts a flush (held at the gate)
    for (let i = 0; i < 3; i++) assert.equal(await settlesSoon(intake.put(block(i).cid, block(i).bytes)), true, `put ${i}`)
    assert.equal(store.flushes, 1)
    // behind it, puts go on while less than a flush's worth is queued ...
    for (let i = 3; i < 5; i++) assert.equal(await settlesSoon(intake.put(block(i).cid, block(i).bytes)), true, `put ${i}`)
    // ... and the put that makes a flush's worth waits for the running flush
    const waiting = intake.put(block(5).cid, block(5).bytes)
    assert.equal(await settlesSoon(waiting), false, 'the put that queues a second flush\'s worth waits')
    assert.equal(store.flushes, 1)
    store.open()
    assert.equal(await waiting, true)
    assert.equal(store.flushes, 2, 'the queued blocks flush as soon as the running flush is done')
    await intake.settle()
    assert.equal(store.blocks.size, 6)
  })
})

describe('BlockIntake admits stored blocks by the quota as they will be stored', { timeout: 20_000 }, () => {
  let dir: string
  let db: RootDb
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'drcore-intake-quota-'))
    db = new Level(dir)
    await db.open()
  })
  after(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })

  /** A quota that admits everything and keeps count of what is reserved. */
  function countingQuota (): IntakeQuota & { reserved: number, asked: number[] } {
    const quota = {
      reserved: 0,
      asked: [] as number[],
      reserve: async (_tenant: string, bytes: number) => { quota.asked.push(bytes); quota.reserved += bytes },
      release: (_tenant: string, bytes: number) => { quota.reserved -= bytes }
    }
    return quota
  }

  test('a zstd body reserves its stored size, released once its reference is written; a body that fails its proof names the peer and gives its room back', async () => {
    // real data: code from this machine's node binary
    const bytes = new Uint8Array((await readFile(process.execPath)).subarray(4_000_000, 4_000_000 + 32 * 1024))
    const body = new Uint8Array(zstdCompressSync(bytes))
    assert.ok(body.length < bytes.length / 1.5, `the slice compresses (${body.length} of ${bytes.length} bytes)`)
    const store = new MemoryBlockStore()
    const quota = countingQuota()
    const intake = new BlockIntake(store, new TenantBlocks(db, store), 'peer', { flushBytes: 1 << 20, flushIntervalMs: 3_600_000 }, { quota, from: 'branch' })
    assert.equal(await intake.put(rawCid(bytes), { flags: FLAG_ZSTD, body, rawLength: bytes.length }), true)
    assert.deepEqual(quota.asked, [body.length], 'the stored body\'s length, not the block\'s')
    const other = block(1)
    await assert.rejects(intake.put(other.cid, { flags: FLAG_ZSTD, body, rawLength: bytes.length }),
      (err: Error) => err instanceof CorruptBlockError && err.cid === other.cid.toString() && err.message.includes('peer branch sent it as a body that is wrong'))
    assert.equal(quota.reserved, body.length, 'the refused body\'s reservation is released')
    await intake.close()
    assert.equal(quota.reserved, 0)
  })
})
