/**
 * The block store through randomized crash cycles on a faulty disk (test/helpers/crash-cycles.ts
 * says what a cycle does and checks). A new seed every run; a failure names it, and
 * CRASH_SEED=<seed> runs the same plans again. CRASH_CYCLES sets the count; the soak
 * (scripts/soak-crash.ts) runs hundreds.
 */
import assert from 'node:assert/strict'
import { randomInt } from 'node:crypto'
import { describe, it } from 'node:test'
import { runCrashCycles } from '../helpers/crash-cycles.ts'

const seed = process.env.CRASH_SEED === undefined ? randomInt(2 ** 31) : Number(process.env.CRASH_SEED)
const cycles = Number(process.env.CRASH_CYCLES ?? 20)

describe('the block store through randomized crash cycles', { timeout: 180_000 }, () => {
  it(`opens, verifies, and keeps every committed point and the write order, after each of ${cycles} cycles of faults and crashes`, async (t) => {
    t.diagnostic(`seed ${seed} (replay: CRASH_SEED=${seed})`)
    const summary = await runCrashCycles({ seed, cycles, freshEvery: 10 })
    // faults are drawn per cycle: a short run may draw none; a few more cycles (seeds that follow,
    // so a replay is still exact) make the run prove what it is for
    for (let more = 1; more <= 5 && (Object.keys(summary.faults).length === 0 || summary.midWorkloadCuts === 0); more++) {
      const next = await runCrashCycles({ seed: seed + more, cycles: 10, freshEvery: 10 })
      t.diagnostic(`no fault or mid-workload cut yet: 10 more cycles with seed ${seed + more}`)
      summary.cycles += next.cycles
      summary.points += next.points
      summary.midWorkloadCuts += next.midWorkloadCuts
      summary.recoveryCuts += next.recoveryCuts
      for (const [kind, n] of Object.entries(next.faults)) summary.faults[kind] = (summary.faults[kind] ?? 0) + n
    }
    t.diagnostic(`${summary.cycles} cycles in ${summary.ms} ms: ${summary.points} points; crashes ${JSON.stringify(summary.crashes)}; ` +
      `power cuts mid-workload ${summary.midWorkloadCuts}, in recovery ${summary.recoveryCuts}; faults fired ${JSON.stringify(summary.faults)}`)
    assert.ok(summary.cycles >= cycles)
    // the run proved something: points to lose, power cuts mid-workload, faults that struck
    assert.ok(summary.points > 0, 'no point was committed')
    assert.ok(summary.midWorkloadCuts > 0, 'no power cut struck during a workload')
    assert.ok(Object.keys(summary.faults).length > 0, 'no fault struck')
  })
})
