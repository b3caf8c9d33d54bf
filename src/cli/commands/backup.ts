import type { Command } from 'commander'
import { basename, resolve } from 'node:path'
import { runLong, withDetach } from '../long-operation.ts'
import type { LongOptions } from '../long-operation.ts'
import { withCommonOptions } from '../common.ts'
import { formatBytes } from '../../common/sizes.ts'
import { printJson } from '../output.ts'
import { UsageError } from '../../errors.ts'

export function register (program: Command): void {
  withDetach(withCommonOptions(program.command('backup')))
    .description('take a recovery point of a machine; each path is a volume named by its basename, or NAME=PATH')
    .argument('<machine>', 'protected machine name')
    .argument('<path...>', 'directory trees or single files (volume images)')
    .option('--base', 'start a new chain with a base image')
    .option('--cluster <name>', 'the cluster this machine belongs to')
    .option('--rehash', 're-read files even when size, mtime, ctime and inode are unchanged')
    .action(async (machine: string, paths: string[], opts: LongOptions & { base?: boolean, cluster?: string, rehash?: boolean }) => {
      const volumes = paths.map(volumeArg)
      const names = new Set<string>()
      for (const v of volumes) {
        if (names.has(v.name)) throw new UsageError(`two volumes are named "${v.name}"; name them with NAME=PATH`)
        names.add(v.name)
      }
      const result = await runLong(opts, 'backup', { machine, volumes, base: opts.base, cluster: opts.cluster, rehash: opts.rehash },
        `the backup of ${machine}`, 'no recovery point was taken (the blocks stored so far serve the next backup)')
      if (result === undefined) return
      if (opts.json === true) printJson(result)
      else {
        process.stdout.write(`${result.kind} recovery point ${result.point} of ${result.machine}\n` +
          `${result.files} files, ${formatBytes(result.bytes)} read, ${formatBytes(result.newBytes)} new, ` +
          `${formatBytes(result.storedBytes)} stored, ${result.seconds.toFixed(1)} s\n`)
        for (const w of result.warnings ?? []) process.stderr.write(`warning: ${w}\n`)
        for (const s of result.skipped) process.stderr.write(`skipped: ${s.path}: ${s.reason}\n`)
        if (result.partial === true) process.stderr.write(`the point is partial: ${result.skipped.length} ${result.skipped.length === 1 ? 'entry was' : 'entries were'} not stored\n`)
      }
      if (result.skipped.length > 0) process.exitCode = 3
    })
}

function volumeArg (arg: string): { name: string, path: string } {
  const eq = arg.indexOf('=')
  if (eq > 0 && !arg.slice(0, eq).includes('/')) return { name: arg.slice(0, eq), path: resolve(arg.slice(eq + 1)) }
  const path = resolve(arg)
  return { name: basename(path) || 'root', path }
}
