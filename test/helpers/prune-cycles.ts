/**
 * Randomized crash cycles of garbage collection on a `FaultyDisk` (used by
 * test/store/prune-crash.test.ts).
 *
 * Each cycle: writers commit points (a node naming real, repeated, zero and random chunks, some
 * shared between points), earlier points are forgotten (their records deleted, synced), and a
 * prune runs (collect, mark the points left, plan with a random `maxUnused`, sweep) while a
 * writer commits a new point that reuses blocks of forgotten ones; the power is cut right before
 * a random call of one step of the sweep (the steps in turn: `SWEEP_STEPS`; or a fault strikes), then the disk crashes (drop, tear, writeback, or a
 * killed process) and the store reopens. Checks after each crash:
 * - the repository opens and `verifyAll` finds every indexed block intact;
 * - every point recorded has every block, each reading back byte for byte (a kept point lost
 *   nothing; the point committed during the prune neither, when its commit resolved);
 * - no index batch named pack bytes that were not durable, nor deleted a pack's record while
 *   its bytes could come back;
 * - a prune run again to its end finishes the work: afterwards every indexed block belongs to a
 *   point, and a new plan finds nothing dead.
 */
import assert from 'node:assert/strict'
import { CID } from 'multiformats/cid'
import { cborBlock } from '../../src/points/blocks.ts'
import { blockLinks, hasLinks } from '../../src/prune/index.ts'
import { jsonSublevel } from '../../src/store/index.ts'
import type { BlockStore, SweepResult } from '../../src/store/index.ts'
import type { StoreLimits } from '../../src/store/constants.ts'
import type { CrashMode, DiskCall, DiskOp, Fault } from './faulty-disk.ts'
import { FaultyRepo } from './faulty-repo.ts'
import { BlockUniverse, Random } from './crash-workload.ts'
import type { TestBlock } from './crash-workload.ts'
import { realBytes } from './real-bytes.ts'

export interface PruneCycleOptions {
  seed: number
  cycles: number
}

export interface PruneCycleSummary {
  cycles: number
  /** power cuts that struck while the prune was running */
  cutsMidPrune: number
  /** faults that struck the prune */
  faults: number
  /** prunes that ran to their end before the cut */
  finished: number
  crashes: Record<string, number>
  /** blocks the reruns removed, packs they deleted and rewrote (the work was real) */
  blocksRemoved: number
  packsDeleted: number
  packsRewritten: number
  /** points forgotten, and kept through the cycles */
  forgotten: number
  kept: number
  /** power cuts that struck, by the kind of call they struck (every step of a sweep is one of these) */
  struck: Partial<Record<DiskOp, number>>
}

interface PointRecordOfTest {
  root: string
  blocks: string[]
}

const MODES: ReadonlyArray<readonly [CrashMode, number]> = [['drop', 35], ['tear', 25], ['writeback', 25], ['process', 15]]

/**
 * The kinds of call a sweep makes, each a step of its write order: index batches (dead entries
 * removed, entries moved to new packs, packs marked with committed length 0, pack records
 * deleted), new packs created, written and synced by the rewrite, pack files unlinked, and the
 * directory synced. The cuts take them in turn, each at a random one of its calls, so every step
 * is struck in a run (a cut counted from the start of the prune would mostly fall early).
 */
export const SWEEP_STEPS: readonly DiskOp[] = ['batch', 'open', 'writev', 'datasync', 'unlink', 'syncdir']

/** A cut strikes one of the first n calls of its kind: a prune makes many batches and writes, few unlinks. */
const CALLS_TO_CUT_AMONG: Record<string, number> = { batch: 8, open: 3, writev: 8, datasync: 3, unlink: 2, syncdir: 2 }
const POINTS = 'points'

export async function runPruneCycles (options: PruneCycleOptions): Promise<PruneCycleSummary> {
  const random = new Random(options.seed)
  const universe = new BlockUniverse(await realBytes())
  const summary: PruneCycleSummary = { cycles: 0, cutsMidPrune: 0, faults: 0, finished: 0, crashes: {}, blocksRemoved: 0, packsDeleted: 0, packsRewritten: 0, forgotten: 0, kept: 0, struck: {} }
  let cuts = 0
  const faulty = await FaultyRepo.create()
  let store = await faulty.open(limitsOf(random))
  /** every block a point named, by CID string: to read back */
  const bytesOf = new Map<string, Uint8Array>()
  try {
    for (let cycle = 0; cycle < options.cycles; cycle++) {
      const story: string[] = []
      try {
        store = await oneCycle(cycle)
      } catch (err) {
        throw new Error(`prune crash cycle ${cycle} of seed ${options.seed} failed (replay: PRUNE_CRASH_SEED=${options.seed}): ${(err as Error).message}\n  ${story.join('; ')}`, { cause: err })
      }
      summary.cycles++

      async function oneCycle (cycle: number): Promise<BlockStore> {
        const { disk } = faulty
        // points: some share blocks with others, some reuse the blocks of earlier points
        const pool: TestBlock[] = []
        for (let w = random.int(2, 5); w > 0; w--) {
          const blocks: TestBlock[] = []
          for (let i = random.int(3, 30); i > 0; i--) {
            const b = pool.length > 0 && random.chance(0.2) ? random.pick(pool) : universe.block(universe.pick(random))
            blocks.push(b)
            pool.push(b)
          }
          await commitPoint(store, `c${cycle}.${w}`, blocks, bytesOf)
        }
        // forget about half of all points recorded so far (synced, as PointIndex.remove's callers end)
        const records = jsonSublevel<PointRecordOfTest>(faulty.repo.db, POINTS)
        const all = await records.keys().all()
        const forget = all.filter(() => random.chance(0.5))
        if (forget.length > 0) await faulty.repo.db.batch(forget.map(key => ({ type: 'del' as const, sublevel: records, key })), { sync: true })
        summary.forgotten += forget.length
        story.push(`${all.length} points, ${forget.length} forgotten`)

        // the prune, with a writer racing it, and a power cut (or a fault) somewhere in it
        const mark = disk.nextSeq
        const step = random.chance(0.85) ? SWEEP_STEPS[cuts++ % SWEEP_STEPS.length] : undefined
        const cutAt = step === undefined ? undefined : random.int(1, CALLS_TO_CUT_AMONG[step] ?? 1)
        if (step !== undefined && cutAt !== undefined) {
          let seen = 0
          disk.cutPowerAt(cutAt, (call: DiskCall) => {
            if (call.op !== step) return false
            if (++seen === cutAt) summary.struck[step] = (summary.struck[step] ?? 0) + 1
            return true
          })
        }
        const fault: Fault | undefined = cutAt === undefined && random.chance(0.6)
          ? random.pick<Fault>([{ op: 'writev', code: 'ENOSPC', nth: random.int(1, 3) }, { op: 'datasync', code: 'EIO' }, { op: 'unlink', code: 'EIO' }, { op: 'syncdir', code: 'EIO' }, { op: 'batch', code: 'EIO', nth: random.int(1, 6) }])
          : undefined
        const armed = fault === undefined ? undefined : disk.inject(fault)
        const racer = pool.filter(() => random.chance(0.3)).concat([universe.block(universe.pick(random))])
        let pruned: SweepResult | undefined
        let racerCommitted = false
        try {
          const outcome = await pruneOnce(store, faulty, random, async () => {
            await commitPoint(store, `c${cycle}.racer`, racer, bytesOf)
            racerCommitted = true
          })
          pruned = outcome
        } catch (err) {
          if (!disk.powerCut && (armed === undefined || armed.fired === 0)) throw new Error(`the prune failed with no fault and no power cut: ${(err as Error).stack}`)
        }
        armed?.disarm()
        if (disk.powerCut) {
          if (pruned === undefined) summary.cutsMidPrune++
        } else if (pruned !== undefined) {
          summary.finished++
        } else {
          summary.faults++
        }
        story.push(`cut at ${step === undefined ? 'none' : `${step} #${cutAt}`}${fault === undefined ? '' : `, fault ${fault.op} ${fault.code ?? ''}`}: ${pruned === undefined ? 'prune interrupted' : 'prune finished'}${racerCommitted ? ', racer committed' : ''}`)

        const mode = random.weighted(MODES)
        summary.crashes[mode] = (summary.crashes[mode] ?? 0) + 1
        story.push(await faulty.crash(mode, random.source, [store]))
        const reopened = await faulty.open(limitsOf(random)).catch((err: Error) => { throw new Error(`the repository does not open: ${err.message}`) })

        const batches = disk.since(mark).filter(e => e.op === 'batch' && e.batch !== undefined && e.error === undefined)
        for (const batch of batches) assert.deepEqual(batch.batch!.notDurable, [], `index batch #${batch.seq} ran ahead of the disk`)
        disk.trace.splice(0)
        await checkRepository(reopened, faulty, bytesOf, racerCommitted ? `c${cycle}.racer` : undefined)

        // a rerun finishes the work
        const rerun = await pruneOnce(reopened, faulty, random)
        summary.blocksRemoved += rerun.blocksRemoved
        summary.packsDeleted += rerun.packsDeleted
        summary.packsRewritten += rerun.packsRewritten
        await checkRepository(reopened, faulty, bytesOf)
        const kept = await jsonSublevel<PointRecordOfTest>(faulty.repo.db, POINTS).values().all()
        const live = new Set(kept.flatMap(r => [r.root, ...r.blocks]))
        for await (const entry of reopened.entries()) assert.ok(live.has(entry.cid.toString()), `block ${entry.cid} is indexed after the rerun, and no point needs it`)
        const again = await reopened.collect({ hasLinks, links: blockLinks })
        try {
          for (const r of kept) await again.mark([CID.parse(r.root)])
          const plan = await again.plan({ maxUnused: 0 })
          assert.equal(plan.deadBlocks, 0, 'a plan after the rerun finds dead blocks')
          assert.equal(plan.remove.length, 0, 'a plan after the rerun finds packs to delete')
        } finally {
          await again.end()
        }
        summary.kept = kept.length
        return reopened
      }
    }
  } finally {
    await store.close().catch(() => {})
    await faulty.cleanup()
  }
  return summary
}

/** Small packs and flushes, so that a cycle has many packs to delete and rewrite. */
function limitsOf (random: Random): StoreLimits {
  return {
    flushBlocks: random.int(4, 24),
    flushBytes: random.pick([16, 64, 256]) * 1024,
    packTargetSize: random.pick([64, 256, 1024]) * 1024
  }
}

/** One writer: the blocks, a node naming them all, and the point's record in the final batch. */
async function commitPoint (store: BlockStore, name: string, blocks: TestBlock[], bytesOf: Map<string, Uint8Array>): Promise<void> {
  const node = cborBlock({ parts: blocks.map(b => b.cid) })
  const writer = store.writer()
  try {
    for (const b of blocks) await writer.put(b.cid, b.bytes)
    await writer.put(node.cid, node.bytes)
    const record: PointRecordOfTest = { root: node.cid.toString(), blocks: [...new Set(blocks.map(b => b.cid.toString()))] }
    await writer.commit([{ type: 'put', sublevel: POINTS, key: name, value: record }])
  } catch (err) {
    await writer.abort().catch(() => {})
    throw err
  }
  bytesOf.set(node.cid.toString(), node.bytes)
  for (const b of blocks) bytesOf.set(b.cid.toString(), b.bytes)
}

/** collect, mark every recorded point, plan, sweep; `during` runs once the collection has started. */
async function pruneOnce (store: BlockStore, faulty: FaultyRepo, random: Random, during?: () => Promise<void>): Promise<SweepResult> {
  const collection = await store.collect({ hasLinks, links: blockLinks })
  // the racer's failure (a power cut, a fault that struck it) is its own: it then committed nothing
  const racing = during?.().catch(() => {})
  try {
    const records = await jsonSublevel<PointRecordOfTest>(faulty.repo.db, POINTS).values().all()
    for (const r of records) await collection.mark([CID.parse(r.root)])
    const plan = await collection.plan({ maxUnused: random.pick([0, 0.05, 0.3]) })
    return await collection.sweep(plan)
  } finally {
    await racing
    await collection.end()
  }
}

/** verifyAll passes, and every recorded point has every block, reading back what was written. */
async function checkRepository (store: BlockStore, faulty: FaultyRepo, bytesOf: Map<string, Uint8Array>, mustHave?: string): Promise<void> {
  const failures: string[] = []
  for await (const r of store.verifyAll()) if (!r.ok) failures.push(`${r.cid}: ${r.error}`)
  assert.deepEqual(failures, [], 'verifyAll finds damaged blocks')
  const records = new Map(await jsonSublevel<PointRecordOfTest>(faulty.repo.db, POINTS).iterator().all())
  if (mustHave !== undefined) assert.ok(records.has(mustHave), `point ${mustHave} was committed during the prune and is gone`)
  for (const [name, record] of records) {
    for (const cid of [record.root, ...record.blocks]) {
      let bytes: Uint8Array
      try {
        bytes = await store.get(CID.parse(cid))
      } catch (err) {
        throw new Error(`point ${name} lost block ${cid}: ${(err as Error).message}`)
      }
      assert.ok(Buffer.from(bytes).equals(bytesOf.get(cid)!), `block ${cid} of point ${name} reads back different`)
    }
  }
}
