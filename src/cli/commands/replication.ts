import type { Command } from 'commander'
import { withCore } from '../connect.ts'
import { withCommonOptions } from '../common.ts'
import type { CommonOptions } from '../common.ts'
import { formatBytes } from '../../common/sizes.ts'
import { printJson, printTable, shortId, peerText } from '../output.ts'
import { progressBar } from '../progress.ts'
import type { RuleRow } from '../../replication/api.ts'
import { describeRule } from './replicate.ts'
import { blockedNote } from '../../replication/blocked-note.ts'
import { parseStreams } from '../../rules/index.ts'

type RuleOptions = CommonOptions & { to: string }

export function register (program: Command): void {
  const replication = program.command('replication').description('replication rules: list, set, pause, resume, now, remove')

  withCommonOptions(replication.command('list'))
    .description('every rule with its state, last point on the target, points behind and bytes sent')
    .action(async (opts: CommonOptions) => {
      const rows: RuleRow[] = await withCore(opts.repo, async core => await core.call('rules'))
      if (opts.json === true) return printJson(rows)
      printTable(rows, [
        { header: 'machine', value: r => r.machine },
        { header: 'to', value: r => peerText(r.to) },
        { header: 'state', value: r => r.state },
        { header: 'schedule', value: r => r.schedule },
        { header: 'window', value: r => r.window },
        { header: 'limit', value: r => r.limit == null ? null : `${formatBytes(r.limit)}/s` },
        { header: 'streams', value: r => r.streams },
        { header: 'last point', value: r => shortId(r.lastPoint) },
        { header: 'behind', value: r => r.pointsBehind },
        { header: 'sent', value: r => formatBytes(r.bytesSent) },
        { header: 'error', value: r => r.error }
      ], 'no replication rules: add one with drcore replicate <machine> --to <peer>')
    })

  ruleCommand(replication, 'pause', 'stop sending: a running job stops at once, triggers wait for resume')
    .action(async (machine: string, opts: RuleOptions) => {
      const row: RuleRow = await withCore(opts.repo, async core => await core.call('rulePause', { machine, to: opts.to }))
      if (opts.json === true) return printJson(row)
      process.stdout.write(`paused replication of ${row.machine} to ${peerText(row.to)}\n`)
    })

  ruleCommand(replication, 'resume', 'resume a paused rule: it sends what accumulated while paused')
    .action(async (machine: string, opts: RuleOptions) => {
      const row: RuleRow = await withCore(opts.repo, async core => await core.call('ruleResume', { machine, to: opts.to }))
      if (opts.json === true) return printJson(row)
      process.stdout.write(`resumed replication of ${row.machine} to ${peerText(row.to)}: ${describeRule(row)}\n`)
    })

  ruleCommand(replication, 'set', "change a rule's schedule, window, limit or streams; its counters and state stay (a running job keeps its limit and streams)")
    .option('--schedule <when>', 'after-backup, or a cron expression in local time, e.g. "0 2 * * *"')
    .option('--window <HH:MM-HH:MM>', 'daily start window in local time, or none for any time')
    .option('--limit <rate>', 'bytes per second: 512K, 10M, 1G, or none for no limit')
    .option('--streams <n>', "streams that carry a point's blocks at once, 1 to 16", parseStreams)
    .action(async (machine: string, opts: RuleOptions & { schedule?: string, window?: string, limit?: string, streams?: number }) => {
      const row: RuleRow = await withCore(opts.repo, async core => await core.call('ruleSet', {
        machine, to: opts.to, schedule: opts.schedule, window: opts.window, limit: opts.limit, streams: opts.streams
      }))
      if (opts.json === true) return printJson(row)
      process.stdout.write(`replicating ${row.machine} to ${peerText(row.to)}: ${describeRule(row)}\n`)
    })

  ruleCommand(replication, 'now', 'replicate now, outside the window and the schedule, and wait for the job (needs the running Core)')
    .option('--no-wait', 'return once the job has started; replication list and events show how it goes')
    .action(async (machine: string, opts: RuleOptions & { wait: boolean }) => {
      const bar = progressBar(opts.json !== true && opts.wait)
      // a job belongs to its rule, not to this command: Ctrl-C leaves it to the Core, and says so
      const leave = (): void => {
        bar.stop()
        process.stderr.write(`left: the replication job of ${machine} to ${opts.to} goes on in the Core; drcore replication list shows it, drcore replication pause ${machine} --to ${opts.to} stops it\n`)
        process.exit(0)
      }
      process.once('SIGINT', leave)
      const r = await withCore(opts.repo, async core => await core.call('ruleNow', { machine, to: opts.to, wait: opts.wait }, bar.onProgress))
        .finally(() => { bar.stop(); process.off('SIGINT', leave) })
      if (opts.json === true) return printJson(r)
      const to = peerText(r.to)
      if (!opts.wait) {
        process.stdout.write(`replication of ${r.machine} to ${to} started\n`)
        return
      }
      if (r.sent.length === 0 && r.pointsBehind === 0) {
        process.stdout.write(`nothing to send: ${to} holds every point of ${r.machine} already\n`)
        return
      }
      process.stdout.write(`replicated ${r.machine} to ${to}: ${r.sent.length} point${r.sent.length === 1 ? '' : 's'} sent, ` +
        `${formatBytes(r.bytesSent)} in ${r.seconds.toFixed(1)} s; ${r.pointsBehind} behind${blockedNote(r.blocked ?? [])}\n`)
    })

  ruleCommand(replication, 'remove', 'remove the rule; the target keeps the points it holds unless --delete-remote')
    .option('--delete-remote', "also delete the machine's points on the target (needs the running Core)")
    .action(async (machine: string, opts: RuleOptions & { deleteRemote?: boolean }) => {
      const r = await withCore(opts.repo, async core => await core.call('ruleRemove', { machine, to: opts.to, deleteRemote: opts.deleteRemote }))
      if (opts.json === true) return printJson(r)
      process.stdout.write(`removed the rule sending ${r.machine} to ${peerText(r.to)}${r.deletedRemote === true ? '; the target deleted its points' : ''}\n`)
    })
}

function ruleCommand (parent: Command, name: string, description: string): Command {
  return withCommonOptions(parent.command(name))
    .description(description)
    .argument('<machine>', 'the machine as the rule names it')
    .requiredOption('--to <peer>', 'the target Core: peer name or id')
}
