import type { Command } from 'commander'
import { withCore } from '../connect.ts'
import { withCommonOptions } from '../common.ts'
import type { CommonOptions } from '../common.ts'
import type { CoreEvent } from '../../events/api.ts'

export function register (program: Command): void {
  withCommonOptions(program.command('events'))
    .description('pairing decisions, backups and replication jobs (newest last)')
    .option('--follow', 'keep printing new events until interrupted')
    .option('--limit <n>', 'how many recent events', '50')
    .action(async (opts: CommonOptions & { follow?: boolean, limit: string }) => {
      const print = (e: CoreEvent): void => {
        if (opts.json === true) process.stdout.write(JSON.stringify(e) + '\n')
        else process.stdout.write(`${e.at}  ${e.level.padEnd(7)} ${e.type.padEnd(22)} ${e.message}\n`)
      }
      await withCore(opts.repo, async core => {
        const events: CoreEvent[] = await core.call('events', { limit: Number(opts.limit) })
        if (opts.json === true && opts.follow !== true) {
          process.stdout.write(JSON.stringify(events, null, 2) + '\n')
          return
        }
        events.forEach(print)
        if (opts.follow !== true) return
        let since = events.at(-1)?.seq ?? 0
        for (;;) {
          await new Promise(resolve => setTimeout(resolve, 1000))
          const fresh: CoreEvent[] = await core.call('events', { since, limit: 1000 })
          fresh.forEach(print)
          since = fresh.at(-1)?.seq ?? since
        }
      })
    })
}
