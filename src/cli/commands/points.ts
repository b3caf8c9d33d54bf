import type { Command } from 'commander'
import { withCore } from '../connect.ts'
import { withCommonOptions } from '../common.ts'
import type { CommonOptions } from '../common.ts'
import { printJson, printTable, shortId } from '../output.ts'

export function register (program: Command): void {
  withCommonOptions(program.command('points'))
    .description("a machine's recovery points, oldest first")
    .argument('<machine>', 'machine name (TENANT/MACHINE when ambiguous)')
    .action(async (machine: string, opts: CommonOptions) => {
      const rows = await withCore(opts.repo, async core => await core.call('points', { machine }))
      if (opts.json === true) return printJson(rows)
      printTable<any>(rows, [
        { header: 'seq', value: r => r.seq },
        { header: 'point', value: r => r.point },
        { header: 'kind', value: r => r.kind },
        { header: 'chain', value: r => r.parentPresent === null ? 'starts a chain' : r.parentPresent ? `after ${shortId(r.parent)}` : `parent ${shortId(r.parent)} forgotten (still restorable)` },
        { header: 'created', value: r => r.createdAt },
        { header: 'state', value: r => (r.complete ? 'complete' : r.damaged ? 'damaged' : 'orphan') + (r.partial ? `, partial (${r.skipped} skipped)` : '') },
        { header: 'volumes', value: r => Object.keys(r.volumes).join(',') }
      ])
    })
}
