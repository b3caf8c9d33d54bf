import type { Command } from 'commander'
import { withCore } from '../connect.ts'
import { pointOption, withCommonOptions } from '../common.ts'
import type { CommonOptions } from '../common.ts'
import { formatBytes } from '../../common/sizes.ts'
import { printJson } from '../output.ts'
import { progressBar } from '../progress.ts'
import type { FetchResult } from '../../replication/api.ts'

export function register (program: Command): void {
  withCommonOptions(program.command('fetch'))
    .description("copy a machine's recovery points back from a Core that holds them for this Core (needs the running Core)")
    .argument('<machine>', 'machine name')
    .requiredOption('--from <peer>', 'the Core holding the points: peer name or id')
    .option('--point <id>', 'one point (and what it needs), instead of all of them')
    .action(async (machine: string, opts: CommonOptions & { from: string, point?: string }) => {
      const bar = progressBar(opts.json !== true)
      const r: FetchResult = await withCore(opts.repo, async core => await core.call('fetch', {
        machine, from: opts.from, point: pointOption(opts.point)
      }, bar.onProgress)).finally(() => bar.stop())
      if (opts.json === true) return printJson(r)
      process.stdout.write(`fetched ${r.points.length} point${r.points.length === 1 ? '' : 's'} of ${r.machine} from ${opts.from}: ` +
        `${r.blocks} blocks, ${formatBytes(r.bytes)} in ${r.seconds.toFixed(1)} s\n`)
    })
}
