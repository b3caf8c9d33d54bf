import type { Command } from 'commander'
import { UsageError } from '../../errors.ts'
import { withCore } from '../connect.ts'
import { withCommonOptions } from '../common.ts'
import type { CommonOptions } from '../common.ts'
import { printJson, printTable, peerText } from '../output.ts'
import { describePolicy } from '../../retention/view.ts'
import type { PolicyView } from '../../retention/view.ts'
import type { RetentionShow } from '../../core/handlers/retention.ts'

/** The `--keep-*` options as commander gives them. */
export interface KeepOptions {
  keepLast?: number
  keepHourly?: number
  keepDaily?: number
  keepWeekly?: number
  keepMonthly?: number
  keepYearly?: number
  keepWithin?: string
}

/** restic's `forget` options, on `forget` and `retention set`. */
export function withKeepOptions (cmd: Command): Command {
  return cmd
    .option('--keep-last <n>', 'keep the n newest points', count('--keep-last'))
    .option('--keep-hourly <n>', 'keep the newest point of each of the last n hours that have points', count('--keep-hourly'))
    .option('--keep-daily <n>', '... of the last n days', count('--keep-daily'))
    .option('--keep-weekly <n>', '... of the last n weeks (Monday to Sunday)', count('--keep-weekly'))
    .option('--keep-monthly <n>', '... of the last n months', count('--keep-monthly'))
    .option('--keep-yearly <n>', '... of the last n years', count('--keep-yearly'))
    .option('--keep-within <duration>', 'keep every point within this long of the newest (e.g. 30d, 1y6m, 12h)')
}

export function keepInput (opts: KeepOptions): KeepOptions {
  const { keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly, keepWithin } = opts
  return { keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly, keepWithin }
}

function count (flag: string): (value: string) => number {
  return value => {
    if (!/^-?\d+$/.test(value.trim())) throw new UsageError(`${flag} ${value}: give a number of points`)
    return Number(value)
  }
}

export function register (program: Command): void {
  const retention = program.command('retention').description('standing retention policies: applied after every backup and every received point (the rollup)')

  withKeepOptions(withCommonOptions(retention.command('set')))
    .description("set a machine's policy, or with --default the policy of every machine without its own")
    .argument('[machine]', 'machine name (TENANT/MACHINE when ambiguous)')
    .option('--default', 'the default policy')
    .action(async (machine: string | undefined, opts: CommonOptions & KeepOptions & { default?: boolean }) => {
      const r = await withCore(opts.repo, async core => await core.call('retentionSet', { machine, default: opts.default, ...keepInput(opts) }))
      if (opts.json === true) return printJson(r)
      process.stdout.write(`retention policy of ${r.default === true ? 'every machine without its own' : who(r)}: ${describePolicy(r.policy)}; applied after every backup and every received point\n`)
    })

  withCommonOptions(retention.command('clear'))
    .description("remove a machine's policy (it follows the default then), or with --default the default")
    .argument('[machine]', 'machine name (TENANT/MACHINE when ambiguous)')
    .option('--default', 'the default policy')
    .action(async (machine: string | undefined, opts: CommonOptions & { default?: boolean }) => {
      const r = await withCore(opts.repo, async core => await core.call('retentionClear', { machine, default: opts.default }))
      if (opts.json === true) return printJson(r)
      process.stdout.write(`removed the retention policy of ${r.default === true ? 'every machine without its own (the default)' : who(r)}\n`)
    })

  withCommonOptions(retention.command('show'))
    .description("the policies, and what each machine's next rollup would remove")
    .action(async (opts: CommonOptions) => {
      const r: RetentionShow = await withCore(opts.repo, async core => await core.call('retentionShow'))
      if (opts.json === true) return printJson(r)
      process.stdout.write(`default: ${r.default === null ? 'none (machines without a policy keep every point)' : describePolicy(r.default)}\n`)
      printTable(r.machines, [
        { header: 'machine', value: m => m.tenant === '' ? m.machine : `${m.tenant}/${m.machine}` },
        { header: 'origin', value: m => peerText(m.origin) },
        { header: 'policy', value: m => m.policy === null ? 'none' : `${describePolicy(m.policy)}${m.policySource === 'default' ? ' (default)' : ''}` },
        { header: 'points', value: m => m.points },
        { header: 'next rollup removes', value: m => m.wouldRemove.length },
        { header: 'locked', value: m => m.locked > 0 ? `${m.locked} until ${m.lockedUntil}` : '-' }
      ], 'no machines yet')
    })

  withCommonOptions(retention.command('apply'))
    .description('apply every standing policy now (the rollup of every machine)')
    .action(async (opts: CommonOptions) => {
      const rows: Array<{ machine: string, tenant: string, removed: string[], kept: number, locked: number }> = await withCore(opts.repo, async core => await core.call('retentionApply'))
      if (opts.json === true) return printJson(rows)
      printTable(rows, [
        { header: 'machine', value: m => m.tenant === '' ? m.machine : `${m.tenant}/${m.machine}` },
        { header: 'removed', value: m => m.removed.length },
        { header: 'kept', value: m => m.kept },
        { header: 'locked', value: m => m.locked }
      ], 'no machine has a policy (drcore retention set)')
    })
}

function who (r: { machine: string | null, tenant: string | null }): string {
  return r.tenant === null || r.tenant === '' ? r.machine ?? '' : `${r.tenant}/${r.machine ?? ''}`
}

export type { PolicyView }
