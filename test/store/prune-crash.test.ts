/**
 * Garbage collection through randomized crash cycles on a faulty disk (test/helpers/prune-cycles.ts
 * says what a cycle does and checks). A new seed every run; a failure names it, and
 * PRUNE_CRASH_SEED=<seed> runs the same plans again. PRUNE_CRASH_CYCLES sets the count.
 */
import assert from 'node:assert/strict'
import { randomInt } from 'node:crypto'
import { describe, it } from 'node:test'
import { runPruneCycles, SWEEP_STEPS } from '../helpers/prune-cycles.ts'

const seed = process.env.PRUNE_CRASH_SEED === undefined ? randomInt(2 ** 31) : Number(process.env.PRUNE_CRASH_SEED)
const cycles = Number(process.env.PRUNE_CRASH_CYCLES ?? 25)

describe('prune through randomized power cuts, faults and crashes', { timeout: 240_000 }, () => {
  it(`opens, verifies, keeps every kept point whole, and finishes the work when run again, after each of ${cycles} cycles`, async (t) => {
    t.diagnostic(`seed ${seed} (replay: PRUNE_CRASH_SEED=${seed})`)
    const summary = await runPruneCycles({ seed, cycles })
    t.diagnostic(JSON.stringify(summary))
    assert.equal(summary.cycles, cycles)
    // a cut aimed at the k-th call of a kind misses when that prune made fewer (few unlinks, no
    // rewrite): the steps no cut reached get up to two more runs of cycles, each checked the same
    for (let extra = 1; extra <= 2 && !everyStepStruck(summary); extra++) {
      t.diagnostic(`not every step was struck: ${cycles} more cycles with seed ${seed + extra}`)
      const more = await runPruneCycles({ seed: seed + extra, cycles })
      t.diagnostic(JSON.stringify(more))
      for (const step of SWEEP_STEPS) summary.struck[step] = (summary.struck[step] ?? 0) + (more.struck[step] ?? 0)
    }
    // the run proved something: cuts that landed inside a prune, and reruns that had work to finish
    assert.ok(summary.cutsMidPrune >= cycles / 3, `only ${summary.cutsMidPrune} power cuts struck while a prune ran`)
    // every step of the sweep's write order was cut at least once
    for (const step of SWEEP_STEPS) assert.ok((summary.struck[step] ?? 0) > 0, `no power cut struck a ${step} call: ${JSON.stringify(summary.struck)}`)
    assert.ok(summary.forgotten > 0 && summary.kept > 0)
    assert.ok(summary.blocksRemoved + summary.packsDeleted + summary.packsRewritten > 0, 'no rerun had work left to finish')
  })
})

function everyStepStruck (summary: { struck: Partial<Record<string, number>> }): boolean {
  return SWEEP_STEPS.every(step => (summary.struck[step] ?? 0) > 0)
}
