import type { Command } from 'commander'
import { withCore } from '../connect.ts'
import { withCommonOptions } from '../common.ts'
import type { CommonOptions } from '../common.ts'
import { printJson } from '../output.ts'
import type { ForgetResult } from '../../retention/retention.ts'
import { describePolicy } from '../../retention/view.ts'
import { keepInput, withKeepOptions } from './retention.ts'
import type { KeepOptions } from './retention.ts'

export function register (program: Command): void {
  withKeepOptions(withCommonOptions(program.command('forget')))
    .description("remove the machine's points the policy does not keep (restic's forget); their blocks stay until drcore prune")
    .argument('<machine>', 'machine name (TENANT/MACHINE when ambiguous)')
    .option('--dry-run', 'say what would be removed, remove nothing')
    .action(async (machine: string, opts: CommonOptions & KeepOptions & { dryRun?: boolean }) => {
      const r: ForgetResult = await withCore(opts.repo, async core => await core.call('forget', { machine, dryRun: opts.dryRun, ...keepInput(opts) }))
      if (opts.json === true) return printJson(r)
      const name = r.tenant === '' ? r.machine : `${r.tenant}/${r.machine}`
      process.stdout.write(`${name} (${describePolicy(r.policy)}): keep ${r.kept.length}, ${r.dryRun ? 'would remove' : 'removed'} ${r.removed.length}\n`)
      for (const id of r.kept) process.stdout.write(`  keep    ${id}  ${r.reasons[id].join(', ')}\n`)
      for (const id of r.removed) process.stdout.write(`  ${r.dryRun ? 'remove' : 'removed'}  ${id}\n`)
      if (r.locked > 0) process.stdout.write(`tenant ${r.tenant}'s retention lock keeps ${r.locked} points (drcore tenant list)\n`)
    })
}
