import type { Command } from 'commander'
import { withCore } from '../connect.ts'
import { withCommonOptions } from '../common.ts'
import type { CommonOptions } from '../common.ts'
import { peerText, printJson, printTable } from '../output.ts'

export function register (program: Command): void {
  withCommonOptions(program.command('machines'))
    .description('machines with recovery points on this Core (local and replicated)')
    .action(async (opts: CommonOptions) => {
      const { rows, self } = await withCore(opts.repo, async core => ({ rows: await core.call('machines'), self: (await core.call('id')).peerId as string }))
      if (opts.json === true) return printJson(rows)
      printTable<any>(rows, [
        { header: 'machine', value: r => r.machine },
        { header: 'tenant', value: r => r.tenant === '' ? '(own)' : r.tenant },
        { header: 'origin', value: r => r.origin.peerId === self ? 'this Core' : peerText(r.origin) },
        { header: 'cluster', value: r => r.cluster },
        { header: 'points', value: r => r.points },
        { header: 'latest', value: r => r.latest }
      ], 'no machines yet: take a recovery point with drcore backup')
    })
}
