/**
 * The block store on a disk that fails (EIO, ENOSPC, short writes) and crashes: every failed
 * flush is one clear line naming the pack, indexes nothing, loses nothing committed before it,
 * and the next writer succeeds.
 */
import assert from 'node:assert/strict'
import { stat } from 'node:fs/promises'
import { basename } from 'node:path'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import { isExpectedError } from '../../src/errors.ts'
import { jsonSublevel, openBlockStore, PackWriteError } from '../../src/store/index.ts'
import type { BlockStore } from '../../src/store/index.ts'
import { PowerCutError } from '../helpers/faulty-disk.ts'
import type { Fault, FaultCode, TraceEvent } from '../helpers/faulty-disk.ts'
import { FaultyRepo } from '../helpers/faulty-repo.ts'
import { realBytes } from '../helpers/real-bytes.ts'
import { block, collect, compressibleBlock, randomBlock } from './helpers.ts'
import type { Block } from './helpers.ts'

const MESSAGES: Record<FaultCode, string> = { ENOSPC: 'no space left on device', EIO: 'i/o error' }
/** small packs, so that each writer below needs a pack of its own (the first one is full) */
const LIMITS = { packTargetSize: 64 * 1024, flushBytes: 1024 * 1024, flushBlocks: 1000 }
const PACK_PATH = /\/packs\/\d{8}\.pack$/

let corpus: Buffer
before(async () => { corpus = await realBytes() })

/** `count` blocks of real data (plus one that compresses well and one that does not), distinct per `tag`. */
function blocksOf (tag: number, count: number): Block[] {
  const out: Block[] = []
  for (let i = 0; i < count; i++) {
    const size = 2000 + ((tag * 7919 + i * 104729) % 30_000)
    const start = ((tag * 1_000_003 + i * 65_537) * 13) % (corpus.length - size)
    out.push(block(new Uint8Array(corpus.subarray(start, start + size))))
  }
  out.push(compressibleBlock(20_000), randomBlock(9000))
  return out
}

async function commitPoint (store: BlockStore, key: string, blocks: Block[]): Promise<void> {
  const writer = store.writer()
  for (const b of blocks) await writer.put(b.cid, b.bytes)
  await writer.commit([{ type: 'put', sublevel: 'points', key, value: blocks.map((b) => b.cid.toString()) }])
}

async function assertIntact (store: BlockStore, blocks: Block[]): Promise<void> {
  for (const b of blocks) assert.ok(Buffer.from(b.bytes).equals(await store.get(b.cid)), `block ${b.cid} reads back as written`)
}

async function assertAbsent (store: BlockStore, blocks: Block[]): Promise<void> {
  assert.deepEqual(await store.hasMany(blocks.map((b) => b.cid)), blocks.map(() => false))
}

function indexedCids (events: TraceEvent[]): Set<string> {
  return new Set(events.filter((e) => e.op === 'batch' && e.error === undefined).flatMap((e) => e.batch!.blocks.map((b) => b.cid)))
}

/** Asserts `err` is the one-line PackWriteError for `code`, and returns its pack path. */
function assertPackWriteError (err: unknown, code: FaultCode): string {
  assert.ok(err instanceof PackWriteError, `expected a PackWriteError, got ${String(err)}`)
  assert.equal(err.name, 'PackWriteError')
  assert.ok(isExpectedError(err))
  assert.ok(!err.message.includes('\n'), `one line: ${err.message}`)
  assert.match(err.path, PACK_PATH)
  assert.ok(err.message.startsWith(`${MESSAGES[code]} writing pack ${err.path}`), err.message)
  assert.equal((err.cause as NodeJS.ErrnoException).code, code)
  return err.path
}

describe('a flush that hits a failing disk', { timeout: 60_000 }, () => {
  let faulty: FaultyRepo
  beforeEach(async () => { faulty = await FaultyRepo.create() })
  afterEach(async () => { await faulty.cleanup() })

  const cases: Array<{ name: string, fault: Fault }> = [
    { name: 'writev fails with ENOSPC after writing half', fault: { op: 'writev', code: 'ENOSPC', written: 30_000 } },
    { name: 'writev fails with EIO before writing', fault: { op: 'writev', code: 'EIO' } },
    { name: 'datasync fails with EIO', fault: { op: 'datasync', code: 'EIO' } },
    { name: 'datasync fails with ENOSPC', fault: { op: 'datasync', code: 'ENOSPC' } },
    { name: 'creating the pack fails with ENOSPC', fault: { op: 'open', code: 'ENOSPC', when: (call) => call.flags === 'wx' } },
    { name: 'creating the pack fails with EIO', fault: { op: 'open', code: 'EIO', when: (call) => call.flags === 'wx' } },
    { name: 'syncing the directory of a new pack fails with EIO', fault: { op: 'syncdir', code: 'EIO' } }
  ]
  for (const { name, fault } of cases) {
    it(`${name}: one PackWriteError naming the pack, nothing of it indexed, earlier points intact, the next writer succeeds`, async () => {
      const store = await faulty.open(LIMITS)
      const first = blocksOf(1, 8)
      await commitPoint(store, 'p0', first)

      const mark = faulty.disk.nextSeq
      const armed = faulty.disk.inject(fault)
      const second = blocksOf(2, 8)
      const failed = await commitPoint(store, 'p1', second).then(() => undefined, (err: unknown) => err)
      assert.equal(armed.fired, 1, 'the fault struck')
      const path = assertPackWriteError(failed, fault.code!)
      if (fault.op !== 'open') await stat(path) // names a pack that exists
      await assertAbsent(store, second)
      assert.equal(await jsonSublevel(faulty.repo.db, 'points').get('p1'), undefined)
      const indexed = indexedCids(faulty.disk.since(mark))
      assert.ok(second.every((b) => !indexed.has(b.cid.toString())), 'no index batch names a block of the failed flush')
      await assertIntact(store, first)

      await commitPoint(store, 'p1', second)
      await assertIntact(store, second)

      await faulty.crash('drop', undefined, [store])
      const reopened = await faulty.open(LIMITS)
      assert.deepEqual((await collect(reopened.verifyAll())).filter((r) => !r.ok), [])
      await assertIntact(reopened, [...first, ...second])
      await reopened.close()
    })
  }

  it('a failing truncate while retiring the pack does not hide the write error; open cuts the tail later', async () => {
    // room for both writers in one pack: the failing flush appends after committed blocks
    const limits = { ...LIMITS, packTargetSize: 1024 * 1024 }
    const store = await faulty.open(limits)
    const first = blocksOf(3, 8)
    await commitPoint(store, 'p0', first)
    faulty.disk.inject({ op: 'writev', code: 'ENOSPC', written: 20_000 })
    const truncate = faulty.disk.inject({ op: 'truncate', code: 'EIO' })
    const second = blocksOf(4, 8)
    const failed = await commitPoint(store, 'p1', second).then(() => undefined, (err: unknown) => err)
    assert.equal(truncate.fired, 1, 'the store tried to give the space back')
    const path = assertPackWriteError(failed, 'ENOSPC')
    const packs = jsonSublevel<number>(faulty.repo.db, 'packs')
    const committed = await packs.get(path.slice(-13, -5))
    assert.ok(committed !== undefined && committed > 0)
    assert.ok((await stat(path)).size > committed, 'the failed bytes are still there')

    await commitPoint(store, 'p1', second)
    // a process crash keeps the unsynced tail: open must cut it
    await faulty.crash('process', undefined, [store])
    const reopened = await faulty.open(limits)
    assert.equal((await stat(path)).size, committed)
    assert.deepEqual((await collect(reopened.verifyAll())).filter((r) => !r.ok), [])
    await assertIntact(reopened, [...first, ...second])
    await reopened.close()
  })

  it('a pack that cannot be reopened for appending after a restart is skipped for a new one', async () => {
    let store = await faulty.open({ ...LIMITS, packTargetSize: 1024 * 1024 })
    const first = blocksOf(5, 4)
    await commitPoint(store, 'p0', first)
    await store.close()
    store = await faulty.open({ ...LIMITS, packTargetSize: 1024 * 1024 })
    const reuse = faulty.disk.inject({ op: 'open', code: 'EIO', when: (call) => call.flags === 'r+' })
    const second = blocksOf(6, 4)
    await commitPoint(store, 'p1', second)
    assert.equal(reuse.fired, 1)
    await assertIntact(store, [...first, ...second])
    await store.close()
  })
})

describe('a pack from an earlier run that cannot be reopened', { timeout: 60_000 }, () => {
  let faulty: FaultyRepo
  beforeEach(async () => { faulty = await FaultyRepo.create() })
  afterEach(async () => { await faulty.cleanup() })

  it('never lets two writers append to the same pack when one of them skips it', async () => {
    const limits = { ...LIMITS, packTargetSize: 1024 * 1024 }
    let store = await faulty.open(limits)
    // two packs with room, left for the next run
    const earlier = [blocksOf(15, 6), blocksOf(16, 6)]
    await Promise.all(earlier.map(async (blocks, i) => await commitPoint(store, `e${i}`, blocks)))
    await store.close()

    // The open of pack 1 fails, but only once the other writer has taken pack 2: the writer
    // that waited for pack 1 then moves on to the next pack it had seen as free.
    const { openFile, directory } = faulty.disk.storeOptions
    let tookPack2: () => void = () => {}
    const pack2Taken = new Promise<void>((resolve) => { tookPack2 = resolve })
    const slowFailingPack1: typeof openFile = async (path, flags) => {
      if (flags === 'r+' && path.endsWith('00000001.pack')) {
        await pack2Taken
        throw new Error('EIO: i/o error, open')
      }
      const handle = await openFile(path, flags)
      if (flags === 'r+' && path.endsWith('00000002.pack')) tookPack2()
      return handle
    }
    store = await openBlockStore({ dir: faulty.packsDir, db: faulty.repo.db, limits, openFile: slowFailingPack1, directory })
    const mark = faulty.disk.nextSeq
    const later = [blocksOf(17, 6), blocksOf(18, 6)]
    await Promise.all(later.map(async (blocks, i) => await commitPoint(store, `l${i}`, blocks)))

    const opens = faulty.disk.since(mark).filter((e) => e.op === 'open' && e.flags === 'r+' && e.path?.endsWith('00000002.pack') === true)
    assert.equal(opens.length, 1, 'pack 2 was opened for appending by two writers')
    assert.deepEqual((await collect(store.verifyAll())).filter((r) => !r.ok).map((r) => r.error), [])
    await assertIntact(store, [...earlier, ...later].flat())
    await store.close()
  })
})

describe('a writev that returns short', { timeout: 60_000 }, () => {
  let faulty: FaultyRepo
  beforeEach(async () => { faulty = await FaultyRepo.create() })
  afterEach(async () => { await faulty.cleanup() })

  // A kernel may write part of a writev and return the count without an error; libuv's own
  // loop does exactly that when the disk fills after the first bytes (ENOSPC comes only from
  // the next call). PackWriter#append writes the rest, so ENOSPC surfaces when it is real.
  it('is continued: the flush writes the rest and succeeds', async () => {
    const store = await faulty.open(LIMITS)
    const blocks = blocksOf(7, 8)
    const short = faulty.disk.inject({ op: 'writev', written: 10_000 })
    await commitPoint(store, 'p0', blocks)
    assert.equal(short.fired, 1)
    await assertIntact(store, blocks)
    await store.close()
  })

  it('then ENOSPC on the rest: the flush fails with "no space left on device" naming the pack, and succeeds once there is room', async () => {
    const store = await faulty.open(LIMITS)
    const first = blocksOf(8, 8)
    await commitPoint(store, 'p0', first)
    faulty.disk.inject({ op: 'writev', written: 10_000 })
    // (a call the short write took is not counted by the next rule: this fails the continuation)
    faulty.disk.inject({ op: 'writev', code: 'ENOSPC' })
    const second = blocksOf(9, 8)
    const failed = await commitPoint(store, 'p1', second).then(() => undefined, (err: unknown) => err)
    assertPackWriteError(failed, 'ENOSPC')
    await assertAbsent(store, second)
    await commitPoint(store, 'p1', second)
    await assertIntact(store, [...first, ...second])
    await store.close()
  })

  it('never leaves a flush half indexed: it either stores everything or fails as a PackWriteError that indexes nothing', async () => {
    const store = await faulty.open(LIMITS)
    const first = blocksOf(10, 8)
    await commitPoint(store, 'p0', first)
    faulty.disk.inject({ op: 'writev', written: 10_000 })
    const second = blocksOf(11, 8)
    const failed = await commitPoint(store, 'p1', second).then(() => undefined, (err: unknown) => err)
    if (failed === undefined) {
      await assertIntact(store, second)
    } else {
      assert.ok(failed instanceof PackWriteError, String(failed))
      assert.ok(!failed.message.includes('\n'))
      assert.match(failed.path, PACK_PATH)
      await assertAbsent(store, second)
      await commitPoint(store, 'p1', second)
    }
    await assertIntact(store, [...first, ...second])
    await store.close()
  })
})

describe('a crash while the store opens (recovering from an earlier crash)', { timeout: 120_000 }, () => {
  /**
   * Leaves what recovery exists for: pack 1 holds point p0 and, past its committed length, the
   * durable bytes of a flush whose index batch failed; pack 2 holds durable records but its
   * committed length is 0 (its only flush was never indexed either).
   */
  async function leftovers (): Promise<{ faulty: FaultyRepo, first: Block[] }> {
    const faulty = await FaultyRepo.create()
    const limits = { ...LIMITS, packTargetSize: 1024 * 1024 }
    const store = await faulty.open(limits)
    const first = blocksOf(12, 4)
    await commitPoint(store, 'p0', first)
    faulty.disk.inject({ op: 'batch', code: 'EIO' })
    await assert.rejects(commitPoint(store, 'p1', blocksOf(13, 4)), { code: 'LEVEL_IO_ERROR' })
    // pack 1 is retired; the next writer creates pack 2 (first batch: its record), then fails to index
    faulty.disk.inject({ op: 'batch', code: 'EIO', nth: 2 })
    await assert.rejects(commitPoint(store, 'p2', blocksOf(14, 4)), { code: 'LEVEL_IO_ERROR' })
    await faulty.crash('drop', undefined, [store])
    return { faulty, first }
  }

  it('leaves a store that opens with every committed point, wherever the power fails during recovery', async (t) => {
    const steps: string[] = []
    for (let k = 1; ; k++) {
      const { faulty, first } = await leftovers()
      try {
        const mark = faulty.disk.nextSeq
        faulty.disk.cutPowerAt(k)
        const opened = await faulty.open(LIMITS).then((store) => store, (err: unknown) => err)
        const cut = faulty.disk.since(mark).find((e) => e.error === 'power cut')
        if (cut === undefined) {
          // recovery needed fewer than k steps: every crash point has been tried
          assert.ok(!(opened instanceof Error), String(opened))
          await (opened as BlockStore).close()
          assert.ok(steps.length >= 5, `recovery took only ${steps.length} steps: ${steps.join(', ')}`)
          t.diagnostic(`crashed before each of: ${steps.join(', ')}`)
          return
        }
        assert.ok(opened instanceof PowerCutError, `open failed with ${String(opened)}`)
        steps.push(`${cut.op}${cut.path === undefined ? '' : ` ${basename(cut.path)}`}`)
        await faulty.crash('drop')
        const store = await faulty.open(LIMITS).catch((err: Error) => { throw new Error(`power cut before step ${k} (${steps.at(-1)}): the store does not open: ${err.message}`) })
        assert.deepEqual((await collect(store.verifyAll())).filter((r) => !r.ok), [])
        await assertIntact(store, first)
        const notDurable = faulty.disk.since(mark).flatMap((e) => e.batch?.notDurable ?? [])
        assert.deepEqual(notDurable, [], `power cut before step ${k}: an index batch ran ahead of the disk`)
        await store.close()
      } finally {
        await faulty.cleanup()
      }
    }
  })
})

describe('a failing call while the store opens', { timeout: 60_000 }, () => {
  /** A store to reopen whose recovery has to truncate pack 1 (a flush past its committed length was never indexed). */
  async function tailToCut (): Promise<{ faulty: FaultyRepo, first: Block[] }> {
    const faulty = await FaultyRepo.create()
    const limits = { ...LIMITS, packTargetSize: 1024 * 1024 }
    const store = await faulty.open(limits)
    const first = blocksOf(19, 4)
    await commitPoint(store, 'p0', first)
    faulty.disk.inject({ op: 'batch', code: 'EIO' })
    await assert.rejects(commitPoint(store, 'p1', blocksOf(20, 4)), { code: 'LEVEL_IO_ERROR' })
    await faulty.crash('drop', undefined, [store]) // undoes the retiring truncate: the synced tail stays
    return { faulty, first }
  }

  for (const op of ['truncate', 'datasync'] as const) {
    it(`fails the open on ${op} EIO, loses nothing, and the next open succeeds`, async () => {
      const { faulty, first } = await tailToCut()
      try {
        const armed = faulty.disk.inject({ op, code: 'EIO' })
        await assert.rejects(faulty.open(LIMITS), { code: 'EIO' })
        assert.equal(armed.fired, 1)
        const store = await faulty.open(LIMITS)
        assert.deepEqual((await collect(store.verifyAll())).filter((r) => !r.ok), [])
        await assertIntact(store, first)
        await store.close()
      } finally {
        await faulty.cleanup()
      }
    })
  }

  it('says so in one line naming the pack', async () => {
    const { faulty } = await tailToCut()
    try {
      faulty.disk.inject({ op: 'truncate', code: 'EIO' })
      const err = await faulty.open(LIMITS).then(() => undefined, (e: unknown) => e) as Error
      assert.ok(isExpectedError(err), `not an ExpectedError: ${String(err)}`)
      assert.match(err.message, /00000001\.pack/)
      assert.ok(!err.message.includes('\n'))
    } finally {
      await faulty.cleanup()
    }
  })
})

after(() => { corpus = Buffer.alloc(0) })
