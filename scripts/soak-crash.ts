/**
 * Soaks the block store in randomized crash cycles on a faulty disk (see
 * test/helpers/crash-cycles.ts): writers, faults, power cuts, crashes of every kind, and after
 * each cycle the checks the crash-cycle test makes. Prints a line per cycle (or every --every
 * cycles) and a summary; exits 1 with the seed and cycle on the first failure.
 *
 *   node scripts/soak-crash.ts [--cycles 500] [--seed N] [--fresh-every 100] [--every 10] [--keep]
 *
 * --keep leaves the repository of a failed cycle in place, with that cycle's trace in trace.json.
 */
import { randomInt } from 'node:crypto'
import { parseArgs } from 'node:util'
import { runCrashCycles } from '../test/helpers/crash-cycles.ts'

const { values } = parseArgs({
  options: {
    cycles: { type: 'string', default: '500' },
    seed: { type: 'string' },
    'fresh-every': { type: 'string', default: '100' },
    every: { type: 'string', default: '10' },
    keep: { type: 'boolean', default: false }
  }
})
const cycles = Number(values.cycles)
const seed = values.seed === undefined ? randomInt(2 ** 31) : Number(values.seed)
const every = Math.max(1, Number(values.every))
if (!Number.isInteger(cycles) || cycles < 1 || !Number.isInteger(seed)) {
  process.stderr.write('soak-crash: --cycles and --seed take whole numbers\n')
  process.exit(2)
}
process.stdout.write(`soak-crash: ${cycles} cycles, seed ${seed}, a new repository every ${values['fresh-every']} cycles\n`)
try {
  const summary = await runCrashCycles({
    seed,
    cycles,
    freshEvery: Number(values['fresh-every']),
    keepFailed: values.keep,
    onCycle: (report) => {
      if ((report.cycle + 1) % every !== 0 && report.cycle + 1 !== cycles) return
      process.stdout.write(`cycle ${report.cycle + 1}/${cycles}: ${report.points} points, ${report.blocks} blocks, ${report.ms} ms; ${report.events.slice(1).join('; ').slice(0, 240)}\n`)
    }
  })
  const seconds = (summary.ms / 1000).toFixed(1)
  process.stdout.write([
    `soak-crash: PASSED ${summary.cycles} cycles of seed ${seed} in ${seconds} s`,
    `  crashes: ${Object.entries(summary.crashes).map(([mode, n]) => `${mode} ${n}`).join(', ')}`,
    `  power cuts mid-workload: ${summary.midWorkloadCuts}, during recovery: ${summary.recoveryCuts}`,
    `  faults fired: ${Object.entries(summary.faults).map(([op, n]) => `${op} ${n}`).join(', ') || 'none'}; writers failed by a fault: ${summary.failedWriters}`,
    `  points committed and checked after every later cycle: ${summary.points}`,
    `  how a reopen failed when a recovery call failed: ${summary.recoveryErrors.length === 0 ? 'never' : ''}`,
    ...summary.recoveryErrors.map((message) => `    ${message}`)
  ].join('\n') + '\n')
} catch (err) {
  process.stderr.write(`soak-crash: FAILED: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
}
