import type { Command } from 'commander'
import { withCore } from '../connect.ts'
import { withCommonOptions } from '../common.ts'
import type { CommonOptions } from '../common.ts'
import { printJson } from '../output.ts'
import { progressBar } from '../progress.ts'

export function register (program: Command): void {
  withCommonOptions(program.command('verify'))
    .description("rehash every stored block and check every recovery point's closure")
    .action(async (opts: CommonOptions) => {
      const bar = progressBar(opts.json !== true)
      const result = await withCore(opts.repo, async core => await core.call('verify', {}, bar.onProgress)).finally(() => bar.stop())
      if (opts.json === true) printJson(result)
      else {
        process.stdout.write(`${result.blocks} blocks checked: ${result.corrupt.length} corrupt, ${result.missing} missing; ${result.orphans.length} orphan points\n`)
        for (const cid of result.corrupt) process.stdout.write(`corrupt block ${cid}\n`)
        for (const p of result.lost) process.stdout.write(`point ${p} was complete and lost data\n`)
        for (const w of result.warnings ?? []) process.stderr.write(`warning: ${w}\n`)
        process.stdout.write(result.ok ? 'ok\n' : 'FAILED: drcore repair rebuilds what other copies here, or peers, still hold\n')
      }
      if (!result.ok) process.exitCode = 1
    })
}
