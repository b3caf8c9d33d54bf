import type { Command } from 'commander'
import { resolve } from 'node:path'
import { runLong, withDetach } from '../long-operation.ts'
import type { LongOptions } from '../long-operation.ts'
import { pointOption, withCommonOptions } from '../common.ts'
import { formatBytes } from '../../common/sizes.ts'
import { printJson } from '../output.ts'

export function register (program: Command): void {
  withDetach(withCommonOptions(program.command('restore')))
    .description('volume-level restore (every volume, or one) or file-level restore (--path) into DEST')
    .argument('<machine>', 'machine name')
    .argument('<dest>', 'destination directory')
    .option('--point <point>', 'latest, a seq as drcore points shows it, or a point id or its unique start', 'latest')
    .option('--volume <name>', 'restore only this volume')
    .option('--path <subpath>', 'file-level restore of this file or folder inside the volume')
    .action(async (machine: string, dest: string, opts: LongOptions & { point?: string, volume?: string, path?: string }) => {
      const result = await runLong(opts, 'restore', { machine, dest: resolve(dest), point: pointOption(opts.point), volume: opts.volume, path: opts.path },
        `the restore of ${machine}`, `what was restored so far stays in ${resolve(dest)}`)
      if (result === undefined) return
      if (opts.json === true) return printJson(result)
      process.stdout.write(`restored ${result.files} files, ${formatBytes(result.bytes)} into ${resolve(dest)}\n`)
      for (const w of result.warnings ?? []) process.stderr.write(`warning: ${w}\n`)
    })
}
