import type { Command } from 'commander'
import { withCore } from '../connect.ts'
import { withCommonOptions } from '../common.ts'
import type { CommonOptions } from '../common.ts'
import { printJson } from '../output.ts'

export function register (program: Command): void {
  withCommonOptions(program.command('id'))
    .description("this Core's peer id, name and listening addresses")
    .action(async (opts: CommonOptions) => {
      const id = await withCore(opts.repo, async core => await core.call('id'))
      if (opts.json === true) return printJson(id)
      process.stdout.write(`peer id  ${id.peerId}\nname     ${id.name}\n`)
      if (id.addresses.length === 0) process.stdout.write('addresses (none: the Core is not running; start it with drcore start)\n')
      for (const a of id.addresses) process.stdout.write(`address  ${a}\n`)
    })
}
