import { Command, CommanderError } from 'commander'
import { asUserError } from '../errors.ts'
import { register as init } from './commands/init.ts'
import { register as id } from './commands/id.ts'
import { register as start } from './commands/start.ts'
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
import { register as indexCommands } from './commands/index-rebuild.ts'

// Everything this process creates is its owner's only: LevelDB's files (which it creates with the
// default mode), seed parts, restore temporaries. The repository's own files and folders are also
// created 0600/0700 explicitly; modes a restore applies are set with chmod, which the umask does
// not touch.
process.umask(0o077)

const program = new Command('drcore')
  .description('peer-to-peer disaster-recovery replication node')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride()
for (const register of [init, id, start, backup, machines, points, ls, restore, verify, repair, prune, events, peer, seed, replicate, replication, fetch, status, indexCommands]) register(program)
const exitOverride = (cmd: Command): void => { cmd.exitOverride(); cmd.commands.forEach(exitOverride) }
exitOverride(program)

try {
  await program.parseAsync(process.argv)
} catch (err: any) {
  // a file-system failure (disk full, I/O error) is the operator's to fix: one line, like a UserError
  const user = asUserError(err)
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
