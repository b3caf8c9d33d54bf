import { readFileSync } from 'node:fs'
import { Command, CommanderError } from 'commander'
import { asExpectedError } from '../errors.ts'
import { register as init } from './commands/init.ts'
import { register as id } from './commands/id.ts'
import { register as start } from './commands/start.ts'
import { register as config } from './commands/config.ts'
import { register as backup } from './commands/backup.ts'
import { register as machines } from './commands/machines.ts'
import { register as points } from './commands/points.ts'
import { register as ls } from './commands/ls.ts'
import { register as restore } from './commands/restore.ts'
import { register as verify } from './commands/verify.ts'
import { register as repair } from './commands/repair.ts'
import { register as prune } from './commands/prune.ts'
import { register as events } from './commands/events.ts'
import { register as peer } from './commands/peer.ts'
import { register as seed } from './commands/seed.ts'
import { register as replicate } from './commands/replicate.ts'
import { register as replication } from './commands/replication.ts'
import { register as fetch } from './commands/fetch.ts'
import { register as status } from './commands/status.ts'
import { register as forget } from './commands/forget.ts'
import { register as retention } from './commands/retention.ts'
import { register as tenant } from './commands/tenant.ts'
import { register as indexCommands } from './commands/index-rebuild.ts'

// Everything this process creates is its owner's only: LevelDB's files (which it creates with the
// default mode), seed parts, restore temporaries. The repository's own files and folders are also
// created 0600/0700 explicitly; modes a restore applies are set with chmod, which the umask does
// not touch.
process.umask(0o077)

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

const program = new Command('drcore')
  .description('peer-to-peer disaster-recovery replication node')
  // the Node it runs on too: bin/drcore.js runs the CLI on the project's own, whatever node started it
  .version(`drcore ${version} (Node ${process.versions.node})`, '-V, --version')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride()
for (const register of [init, id, start, config, backup, machines, points, ls, restore, verify, repair, prune, events, peer, seed, replicate, replication, fetch, status, forget, retention, tenant, indexCommands]) register(program)
const exitOverride = (cmd: Command): void => { cmd.exitOverride(); cmd.commands.forEach(exitOverride) }
exitOverride(program)

try {
  await program.parseAsync(process.argv)
} catch (err: any) {
  // every expected failure, user or operational (disk full, I/O error, a peer away), is one line
  const user = asExpectedError(err)
  if (err instanceof CommanderError) {
    // help and version print and exit 0; everything else commander reports is a usage error
    process.exitCode = err.exitCode === 0 ? 0 : 2
  } else if (user !== undefined) {
    process.stderr.write(`drcore: ${user.message}\n`)
    process.exitCode = user.exitCode
  } else {
    process.stderr.write(`drcore: internal error: ${err?.stack ?? err}\n`)
    process.exitCode = 1
  }
}
