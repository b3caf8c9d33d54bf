import type { Command } from 'commander'
import { runLong, withDetach } from '../long-operation.ts'
import type { LongOptions } from '../long-operation.ts'
import { pointOption, withCommonOptions } from '../common.ts'
import { formatBytes } from '../../common/sizes.ts'
import { printJson } from '../output.ts'
import type { FetchResult } from '../../replication/api.ts'

export function register (program: Command): void {
  withDetach(withCommonOptions(program.command('fetch')))
    .description("copy a machine's recovery points back from a Core that holds them for this Core (needs the running Core)")
    .argument('<machine>', 'machine name')
    .requiredOption('--from <peer>', 'the Core holding the points: peer name or id')
    .option('--point <id>', 'one point (and what it needs), instead of all of them')
    .action(async (machine: string, opts: LongOptions & { from: string, point?: string }) => {
      const r = await runLong<FetchResult>(opts, 'fetch', { machine, from: opts.from, point: pointOption(opts.point) },
        `the fetch of ${machine}`, 'the blocks fetched so far are kept; fetch again to finish')
      if (r === undefined) return
      if (opts.json === true) return printJson(r)
      const points = `${r.points.length} point${r.points.length === 1 ? '' : 's'} of ${r.machine}`
      if (r.blocks === 0) {
        process.stdout.write(`nothing to move: this Core held every block of the ${points} already; they are recorded here (${r.seconds.toFixed(1)} s)\n`)
        return
      }
      process.stdout.write(`fetched ${points} from ${opts.from}: ` +
        `${r.blocks} blocks, ${formatBytes(r.bytes)} in ${r.seconds.toFixed(1)} s\n`)
    })
}
