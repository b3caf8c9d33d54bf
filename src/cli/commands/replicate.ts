import type { Command } from 'commander'
import { withCore } from '../connect.ts'
import { withCommonOptions } from '../common.ts'
import type { CommonOptions } from '../common.ts'
import { formatBytes } from '../../common/sizes.ts'
import { printJson, peerText } from '../output.ts'
import type { RuleRow } from '../../replication/api.ts'
import { parseStreams } from '../../rules/index.ts'

interface ReplicateOptions extends CommonOptions {
  to: string
  schedule?: string
  window?: string
  paused?: boolean
  seedDrive?: boolean
  limit?: string
  streams?: number
}

export function register (program: Command): void {
  withCommonOptions(program.command('replicate'))
    .description("add a replication rule: send a machine's recovery points (its cluster's too) to another Core")
    .argument('<machine>', 'machine name; TENANT/MACHINE names a replicated machine to forward')
    .requiredOption('--to <peer>', 'the target Core: peer name or id')
    .option('--schedule <when>', 'after-backup (default: after every backup), or a cron expression in local time, e.g. "0 2 * * *"')
    .option('--window <HH:MM-HH:MM>', 'daily start window in local time, e.g. 22:00-06:00; a job started inside it may finish after it')
    .option('--paused', 'create the rule paused (drcore replication resume starts it)')
    .option('--seed-drive', 'the points that exist now travel on a seed drive (drcore seed create); only newer ones go over the network')
    .option('--limit <rate>', 'bandwidth limit in bytes per second: 512K, 10M, 1G (binary multiples)')
    .option('--streams <n>', "streams that carry a point's blocks at once, 1 to 16 (default 1); --limit is their total", parseStreams)
    .action(async (machine: string, opts: ReplicateOptions) => {
      const row: RuleRow & { warnings: string[] } = await withCore(opts.repo, async core => await core.call('ruleAdd', {
        machine, to: opts.to, schedule: opts.schedule, window: opts.window, paused: opts.paused, seedDrive: opts.seedDrive, limit: opts.limit, streams: opts.streams
      }))
      for (const w of row.warnings) process.stderr.write(`warning: ${w}\n`)
      if (opts.json === true) return printJson(row)
      process.stdout.write(`replicating ${row.machine} to ${peerText(row.to)}: ${describeRule(row)}\n`)
      if (row.state === 'error' && row.error != null) process.stdout.write(`not yet: ${row.error}; the rule runs once it may\n`)
    })
}

/** "after every backup, window 22:00-06:00, limit 10.0 MiB/s, paused" */
export function describeRule (row: Pick<RuleRow, 'schedule' | 'window' | 'limit' | 'paused' | 'seedDrive' | 'seedState'> & { streams?: number }): string {
  const parts = [row.schedule === 'after-backup' ? 'after every backup' : `on schedule ${row.schedule}`]
  if (row.window != null) parts.push(`window ${row.window}`)
  if (row.limit != null) parts.push(`limit ${formatBytes(row.limit)}/s`)
  if (row.streams != null && row.streams > 1) parts.push(`${row.streams} streams`)
  if (row.seedDrive) parts.push(`seed drive ${row.seedState ?? ''}`.trim())
  if (row.paused) parts.push('paused')
  return parts.join(', ')
}
