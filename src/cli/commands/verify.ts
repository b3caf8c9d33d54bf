import type { Command } from 'commander'
import { runLong, withDetach } from '../long-operation.ts'
import type { LongOptions } from '../long-operation.ts'
import { withCommonOptions } from '../common.ts'
import { printJson } from '../output.ts'

export function register (program: Command): void {
  withDetach(withCommonOptions(program.command('verify')))
    .description("rehash every stored block and check every recovery point's closure")
    .action(async (opts: LongOptions) => {
      const result = await runLong(opts, 'verify', {}, 'the verification', 'nothing was changed')
      if (result === undefined) return
      if (opts.json === true) printJson(result)
      else {
        process.stdout.write(`${result.blocks} blocks checked: ${result.corrupt.length} corrupt, ${result.missing.length} missing; ${result.orphans.length} orphan points\n`)
        for (const cid of result.corrupt) process.stdout.write(`corrupt block ${cid}\n`)
        for (const p of result.lost) process.stdout.write(`point ${p} was complete and lost data\n`)
        for (const w of result.warnings ?? []) process.stderr.write(`warning: ${w}\n`)
        process.stdout.write(result.ok ? 'ok\n' : 'FAILED: drcore repair rebuilds what other copies here, or peers, still hold\n')
      }
      if (!result.ok) process.exitCode = 1
    })
}
