/**
 * Randomized crash cycles for the block store on a `FaultyDisk` (used by
 * test/store/crash-cycles.test.ts and scripts/soak-crash.ts).
 *
 * Each cycle: run rounds of concurrent block writers (some commit a point naming their blocks;
 * small limits make them flush in the background and roll packs over), with a power cut at a
 * random call and/or a fault (EIO, ENOSPC, a short or partial writev, a failing index batch, a
 * failing truncate after a failed write) at another; after a fault, a fresh writer must succeed.
 * Then crash (drop, tear, writeback or a killed process), sometimes crash again during the
 * recovery that follows, or fail a recovery call; then reopen and check:
 * - the repository opens, and `verifyAll` finds every indexed block intact;
 * - every point whose `commit` resolved, in any cycle so far, is there and has all its blocks
 *   (and this cycle's read back byte for byte); every point record in the index has its blocks;
 * - no index batch ever named pack bytes (or a pack) that were not durable when it was written;
 * - for each point committed this cycle, the trace shows: each new block's bytes written
 *   (writev), then datasynced, then an index batch naming the block, at or before the point's
 *   own batch, which is synced.
 * A failure names the seed and the cycle; the same seed replays the same plans (the interleaving
 * of writers and the zstd workers may still differ from run to run).
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { isExpectedError } from '../../src/errors.ts'
import { jsonSublevel, PackWriteError } from '../../src/store/index.ts'
import type { BlockStore, BlockWriter } from '../../src/store/index.ts'
import type { StoreLimits } from '../../src/store/constants.ts'
import { PowerCutError } from './faulty-disk.ts'
import type { BatchSummary, CrashMode, DiskOp, Fault, TraceEvent } from './faulty-disk.ts'
import { FaultyRepo } from './faulty-repo.ts'
import { BlockUniverse, planWorkload, Random } from './crash-workload.ts'
import type { TestBlock, WriterPlan } from './crash-workload.ts'
import { realBytes } from './real-bytes.ts'

export interface CrashCycleOptions {
  seed: number
  cycles: number
  /** start a new repository every this many cycles (bounds the time a cycle's verify takes) */
  freshEvery?: number
  /** on failure, keep the repository and write the failed cycle's trace to trace.json in it */
  keepFailed?: boolean
  onCycle?: (report: CycleReport) => void
}

export interface CycleReport {
  cycle: number
  /** what happened, for a progress line */
  events: string[]
  /** points committed so far (in this repository) */
  points: number
  /** blocks in the store after the cycle */
  blocks: number
  ms: number
}

export interface CrashCycleSummary {
  seed: number
  cycles: number
  points: number
  crashes: Record<string, number>
  /** power cuts that struck during the workload (the rest came at its end) */
  midWorkloadCuts: number
  /** power cuts during the recovery of a reopen */
  recoveryCuts: number
  /** faults that fired, by operation */
  faults: Record<string, number>
  /** writers whose flush failed because of a fault */
  failedWriters: number
  /** how a reopen failed when a recovery call failed (distinct messages) */
  recoveryErrors: string[]
  ms: number
}

export class CrashCycleFailure extends Error {
  override name = 'CrashCycleFailure'
  readonly seed: number
  readonly cycle: number
  constructor (seed: number, cycle: number, story: string[], cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause)
    super(`crash cycle ${cycle} of seed ${seed} failed (replay: CRASH_SEED=${seed} node --test test/store/crash-cycles.test.ts, or node scripts/soak-crash.ts --seed ${seed} --cycles ${cycle + 1}): ${reason}\n  cycle ${cycle}: ${story.join('; ')}`, { cause })
    this.seed = seed
    this.cycle = cycle
  }
}

const PACK_PATH = /\/packs\/\d{8}\.pack$/
const MODES: ReadonlyArray<readonly [CrashMode, number]> = [['drop', 35], ['tear', 25], ['writeback', 25], ['process', 15]]
const RECOVERY_OPS: DiskOp[] = ['readdir', 'size', 'open', 'truncate', 'datasync', 'unlink', 'syncdir', 'batch']

export async function runCrashCycles (options: CrashCycleOptions): Promise<CrashCycleSummary> {
  const started = Date.now()
  const random = new Random(options.seed)
  const universe = new BlockUniverse(await realBytes())
  const summary: CrashCycleSummary = { seed: options.seed, cycles: 0, points: 0, crashes: {}, midWorkloadCuts: 0, recoveryCuts: 0, faults: {}, failedWriters: 0, recoveryErrors: [], ms: 0 }
  let run: RepoRun | undefined
  try {
    for (let cycle = 0; cycle < options.cycles; cycle++) {
      if (run === undefined || (options.freshEvery !== undefined && cycle % options.freshEvery === 0)) {
        await run?.close()
        run = await RepoRun.start(randomLimits(random))
      }
      const cycleStart = Date.now()
      const story: string[] = []
      try {
        await run.cycle(cycle, random, universe, summary, story)
      } catch (err) {
        if (options.keepFailed === true) {
          await writeFile(join(run.faulty.repo.root, 'trace.json'), JSON.stringify(run.faulty.disk.trace, null, 1))
          story.push(`repository and trace kept in ${run.faulty.repo.root}`)
          await run.store.close().catch(() => {})
          run = undefined
        }
        throw new CrashCycleFailure(options.seed, cycle, story, err)
      }
      summary.cycles++
      options.onCycle?.({ cycle, events: story, points: run.points.size, blocks: run.blocks, ms: Date.now() - cycleStart })
    }
  } finally {
    await run?.close()
  }
  summary.ms = Date.now() - started
  return summary
}

function randomLimits (random: Random): StoreLimits {
  return {
    flushBlocks: random.int(2, 24),
    flushBytes: random.pick([8, 32, 64, 256, 1024]) * 1024,
    // small enough to roll over often; not tiny, because verifyAll's cost grows with the pack count
    packTargetSize: random.pick([128, 512, 2048, 8192]) * 1024
  }
}

/**
 * A generous count of the mutating disk calls (and index batches) a workload may make; measured
 * runs make about a quarter of it (blocks compress, writers reuse packs), so a cut is placed
 * within the first 35% of it.
 */
function mutatingCalls (plan: WriterPlan[][], limits: StoreLimits): number {
  let calls = 0
  for (const writer of plan.flat()) {
    const bytes = writer.blocks.reduce((sum, b) => sum + b.bytes.length, 0)
    const flushes = Math.max(Math.ceil(writer.blocks.length / limits.flushBlocks), Math.ceil(bytes / limits.flushBytes)) + writer.flushAfter.size + 1
    const packs = Math.ceil(bytes / limits.packTargetSize) + 1
    calls += 3 * flushes + 3 * packs // writev, datasync, batch; open, directory sync, batch
  }
  return calls
}

/** One fault, or two that strike together. */
function randomFaults (random: Random): Fault[] {
  const code = random.pick(['EIO', 'ENOSPC'] as const)
  const nth = random.int(1, 8)
  const times = random.pick([1, 1, 2])
  switch (random.int(0, 6)) {
    case 0: return [{ op: 'writev', code, nth, times, written: random.chance(0.5) ? random.int(1, 20_000) : 0 }]
    case 1: return [{ op: 'writev', nth, written: random.int(1, 20_000) }] // short, without an error
    case 2: return [{ op: 'datasync', code, nth, times }]
    case 3: return [{ op: 'open', code, nth: random.int(1, 3), times, when: (call) => call.flags !== 'r' }]
    case 4: return [{ op: 'syncdir', code, times }]
    // a truncate happens only where a failed flush gives its bytes back
    case 5: return [{ op: 'writev', code: 'ENOSPC', nth, written: random.int(1, 20_000) }, { op: 'truncate', code, times: 3 }]
    default: return [{ op: 'batch', code: 'EIO', nth, times }]
  }
}

function describeFault (fault: Fault): string {
  const what = fault.code ?? `short return after ${fault.written ?? 0} bytes`
  return `${fault.op} ${what}${fault.written !== undefined && fault.code !== undefined ? ` after ${fault.written} bytes` : ''} (call ${fault.nth ?? 1}${(fault.times ?? 1) > 1 ? `, ${fault.times} times` : ''})`
}

/** One repository through many cycles. */
class RepoRun {
  readonly faulty: FaultyRepo
  store: BlockStore
  /** every point whose commit resolved: key -> its blocks' CIDs */
  readonly points = new Map<string, string[]>()
  blocks = 0
  /** the limits the store is open with */
  limits: StoreLimits

  private constructor (faulty: FaultyRepo, store: BlockStore, limits: StoreLimits) {
    this.faulty = faulty
    this.store = store
    this.limits = limits
  }

  static async start (limits: StoreLimits): Promise<RepoRun> {
    const faulty = await FaultyRepo.create()
    return new RepoRun(faulty, await faulty.open(limits), limits)
  }

  async close (): Promise<void> {
    await this.store.close().catch(() => {})
    await this.faulty.cleanup()
  }

  async cycle (cycle: number, random: Random, universe: BlockUniverse, summary: CrashCycleSummary, story: string[]): Promise<void> {
    const { disk } = this.faulty
    const mark = disk.nextSeq
    const plan = planWorkload(random, universe, cycle)
    // for the fresh writer after a fault (its blocks are picked now, to know which are indexed already)
    const probe: WriterPlan = { name: `c${cycle}.probe`, blocks: Array.from({ length: 4 }, () => universe.block(universe.pick(random))), flushAfter: new Set(), end: 'commit-point' }
    const planned = [...new Map([...plan.flat(), probe].flatMap((w) => w.blocks).map((b) => [b.cid.toString(), b])).values()]
    const known = await this.store.hasMany(planned.map((b) => b.cid))
    const indexedBefore = new Set(planned.filter((_, i) => known[i]).map((b) => b.cid.toString()))
    story.push(`${plan.flat().length} writers in ${plan.length} rounds, ${planned.length} distinct blocks`)

    const cutAt = random.chance(0.85) ? random.int(1, Math.ceil(0.35 * mutatingCalls(plan, this.limits))) : undefined
    if (cutAt !== undefined) disk.cutPowerAt(cutAt)
    const faults = random.chance(0.6) ? randomFaults(random) : []
    const armed = faults.map((fault) => disk.inject(fault))
    const fired = (): number => armed.reduce((sum, a) => sum + a.fired, 0)
    story.push(`power cut at mutating call ${cutAt ?? 'end'}${faults.length === 0 ? '' : `, faults: ${faults.map(describeFault).join(' and ')}`}`)

    // the workload
    const committed: Array<{ key: string, blocks: TestBlock[] }> = []
    for (const round of plan) {
      if (disk.powerCut) break
      const outcomes = await Promise.all(round.map(async (writer) => await this.#runWriter(writer, fired)))
      for (let i = 0; i < round.length; i++) {
        const outcome = outcomes[i]
        if (outcome === 'committed' && round[i].end === 'commit-point') committed.push({ key: round[i].name, blocks: round[i].blocks })
        if (outcome === 'failed') summary.failedWriters++
      }
    }
    if (fired() > 0) {
      for (let i = 0; i < faults.length; i++) {
        if (armed[i].fired > 0) summary.faults[faults[i].op] = (summary.faults[faults[i].op] ?? 0) + armed[i].fired
        armed[i].disarm()
      }
      story.push(`faults struck ${fired()}x`)
      if (!disk.powerCut) {
        // a fresh writer after the fault succeeds
        const outcome = await this.#runWriter(probe, () => 0)
        if (!disk.powerCut) assert.equal(outcome, 'committed', 'a fresh writer after the fault failed')
        if (outcome === 'committed') committed.push({ key: probe.name, blocks: probe.blocks })
      }
    }
    for (const point of committed) this.points.set(point.key, point.blocks.map((b) => b.cid.toString()))
    summary.points += committed.length
    if (disk.powerCut) summary.midWorkloadCuts++
    story.push(`${committed.length} points committed${disk.powerCut ? ', power cut mid-workload' : ''}`)

    // the crash, and maybe another during recovery, or a failing recovery call
    await this.#crash(random, summary, story)
    const limits = randomLimits(random)
    const trouble = random.next()
    if (trouble < 0.25) {
      disk.cutPowerAt(random.int(1, 5))
      const store = await this.faulty.open(limits).catch((err: unknown) => err)
      if (store instanceof PowerCutError) {
        summary.recoveryCuts++
        story.push('power cut during recovery')
        await this.#crash(random, summary, story)
      } else if (store instanceof Error) {
        throw store
      } else {
        story.push('recovery finished before the power cut')
        await this.faulty.crash('drop', random.source, [store as BlockStore])
      }
    } else if (trouble < 0.35) {
      const recoveryFault: Fault = { op: random.pick(RECOVERY_OPS), code: random.pick(['EIO', 'ENOSPC'] as const), nth: random.int(1, 3) }
      const faulted = disk.inject(recoveryFault)
      const store = await this.faulty.open(limits).catch((err: unknown) => err)
      faulted.disarm()
      if (store instanceof Error) {
        assert.ok(faulted.fired > 0, `the store did not open, and not because of the fault: ${store.message}`)
        story.push(`recovery failed on ${describeFault(recoveryFault)}: ${store.message}`)
        const message = store.message.replace(/\/tmp\/[^ ']*/g, '<path>')
        if (!summary.recoveryErrors.includes(message)) summary.recoveryErrors.push(message)
        if (random.chance(0.5)) await this.#crash(random, summary, story)
      } else {
        await (store as BlockStore).close()
      }
    }

    // the checks
    this.store = await this.faulty.open(limits).catch((err: Error) => { throw new Error(`the repository does not open: ${err.message}`) })
    this.limits = limits
    const events = disk.since(mark)
    await this.#check(committed, indexedBefore, events)
    disk.trace.splice(0)
  }

  /** Runs one writer; an error is fine only after the power cut or as the clear outcome of a fault. */
  async #runWriter (plan: WriterPlan, faultsFired: () => number): Promise<'committed' | 'done' | 'failed' | 'crashed'> {
    const { disk } = this.faulty
    let writer: BlockWriter | undefined
    try {
      writer = this.store.writer()
      for (let i = 0; i < plan.blocks.length; i++) {
        const { cid, bytes } = plan.blocks[i]
        await writer.put(cid, bytes)
        if (plan.flushAfter.has(i)) await writer.flush()
      }
      switch (plan.end) {
        case 'commit-point':
          await writer.commit([{ type: 'put', sublevel: 'points', key: plan.name, value: plan.blocks.map((b) => b.cid.toString()) }])
          return 'committed'
        case 'commit':
          await writer.commit()
          return 'done'
        case 'abort':
          await writer.abort()
          return 'done'
        case 'leave-open':
          return 'done' // the store's close (at the crash) aborts it
      }
    } catch (err) {
      await writer?.abort().catch(() => {})
      if (disk.powerCut) return 'crashed'
      if (faultsFired() === 0) throw new Error(`writer ${plan.name} failed with no fault injected: ${describeError(err)}`)
      assertClearFailure(err)
      return 'failed'
    }
  }

  async #crash (random: Random, summary: CrashCycleSummary, story: string[]): Promise<void> {
    const mode = random.weighted(MODES)
    summary.crashes[mode] = (summary.crashes[mode] ?? 0) + 1
    story.push(await this.faulty.crash(mode, random.source, [this.store]))
  }

  async #check (committed: Array<{ key: string, blocks: TestBlock[] }>, indexedBefore: Set<string>, events: TraceEvent[]): Promise<void> {
    const store = this.store
    const failures = []
    let verified = 0
    for await (const result of store.verifyAll()) {
      verified++
      if (!result.ok) failures.push(`${result.cid}: ${result.error}`)
    }
    assert.deepEqual(failures, [], 'verifyAll finds damaged blocks')
    this.blocks = (await store.stats()).blocks
    assert.equal(verified, this.blocks, 'verifyAll checked every indexed block')

    const records = new Map((await jsonSublevel<string[]>(this.faulty.repo.db, 'points').iterator().all()))
    for (const [key, cids] of this.points) {
      assert.deepEqual(records.get(key), cids, `point ${key} was committed and is gone`)
    }
    for (const [key, cids] of records) {
      const present = await store.hasMany(cids.map((c) => CID.parse(c)))
      const missing = cids.filter((_, i) => !present[i])
      assert.deepEqual(missing, [], `point ${key} names blocks the store does not have`)
    }
    for (const point of committed) {
      for (const b of point.blocks) {
        assert.ok(Buffer.from(b.bytes).equals(await store.get(b.cid)), `block ${b.cid} of point ${point.key} reads back different`)
      }
    }

    const batches = events.filter((e) => e.op === 'batch' && e.batch !== undefined && e.error === undefined)
    for (const batch of batches) {
      assert.deepEqual(batch.batch!.notDurable, [], `index batch #${batch.seq} ran ahead of the disk`)
    }
    for (const point of committed) checkWriteOrder(point, events, batches, indexedBefore)
  }
}

/**
 * The point's own batch is synced; each of its blocks not indexed before the cycle was named by
 * a batch at or before it, whose bytes were written by a writev that a datasync made durable
 * before that batch.
 */
function checkWriteOrder (point: { key: string, blocks: TestBlock[] }, events: TraceEvent[], batches: TraceEvent[], indexedBefore: Set<string>): void {
  const own = batches.find((e) => e.lost !== true && e.batch!.ops.some((op) => op.sublevel === 'points' && op.key === point.key))
  assert.ok(own !== undefined, `no index batch wrote point ${point.key}`)
  assert.equal(own.sync, true, `point ${point.key} was written by an unsynced batch`)
  for (const b of point.blocks) {
    const cid = b.cid.toString()
    if (indexedBefore.has(cid)) continue
    const naming: Array<{ batch: TraceEvent, entry: BatchSummary['blocks'][number] }> = batches
      .filter((e) => e.seq <= own.seq && e.lost !== true)
      .flatMap((e) => e.batch!.blocks.filter((x) => x.cid === cid).map((x) => ({ batch: e, entry: x })))
    assert.ok(naming.length > 0, `block ${cid} of point ${point.key} was indexed by no batch before the point`)
    for (const { batch, entry } of naming) {
      // a write the kernel returned short is continued by another writev: the block's bytes may
      // span several, each of which must have been made durable before the batch
      const end = entry.offset + entry.storedLength
      const writes = events
        .filter((e) => e.op === 'writev' && e.path === entry.path && e.seq < batch.seq && (e.error === undefined || e.error.startsWith('short')) && (e.written ?? 0) > 0 &&
          e.position! < end && entry.offset < e.position! + e.written!)
        .sort((a, b) => a.position! - b.position!)
      let covered = entry.offset
      for (const write of writes) {
        if (write.position! > covered) break
        covered = Math.max(covered, write.position! + write.written!)
        if (covered >= end) break
      }
      assert.ok(covered >= end, `block ${cid}: no writev put its bytes at ${entry.offset} of ${entry.path} before batch #${batch.seq}`)
      for (const write of writes) {
        assert.ok(write.syncedAt !== undefined && write.syncedAt < batch.seq, `block ${cid}: its writev #${write.seq} was not datasynced before batch #${batch.seq}`)
        const sync: TraceEvent | undefined = events.find((e) => e.seq === write.syncedAt)
        assert.equal(sync?.op, 'datasync')
      }
    }
  }
}

/** Only a fault's clear outcome may fail a writer while the power is on. */
function assertClearFailure (err: unknown): void {
  if (err instanceof PackWriteError) {
    assert.ok(isExpectedError(err))
    assert.ok(!err.message.includes('\n'), `a PackWriteError of more than one line: ${err.message}`)
    assert.match(err.path, PACK_PATH)
    assert.ok(err.message.includes(err.path), err.message)
    return
  }
  if ((err as { code?: string }).code === 'LEVEL_IO_ERROR') return // an injected index failure, as LevelDB reports it
  throw new Error(`a writer failed with an unexpected error: ${describeError(err)}`)
}

function describeError (err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}
