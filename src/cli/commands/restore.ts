import type { Command } from 'commander'
import { resolve } from 'node:path'
import { withCore } from '../connect.ts'
import { pointOption, withCommonOptions } from '../common.ts'
import type { CommonOptions } from '../common.ts'
import { formatBytes } from '../../common/sizes.ts'
import { printJson } from '../output.ts'
import { progressBar } from '../progress.ts'

export function register (program: Command): void {
  withCommonOptions(program.command('restore'))
    .description('volume-level restore (every volume, or one) or file-level restore (--path) into DEST')
    .argument('<machine>', 'machine name')
    .argument('<dest>', 'destination directory')
    .option('--point <id>', 'point id or "latest"', 'latest')
    .option('--volume <name>', 'restore only this volume')
    .option('--path <subpath>', 'file-level restore of this file or folder inside the volume')
    .action(async (machine: string, dest: string, opts: CommonOptions & { point?: string, volume?: string, path?: string }) => {
      const bar = progressBar(opts.json !== true)
      const result = await withCore(opts.repo, async core => await core.call('restore', {
        machine, dest: resolve(dest), point: pointOption(opts.point), volume: opts.volume, path: opts.path
      }, bar.onProgress)).finally(() => bar.stop())
      if (opts.json === true) return printJson(result)
      process.stdout.write(`restored ${result.files} files, ${formatBytes(result.bytes)} into ${resolve(dest)}\n`)
      for (const w of result.warnings ?? []) process.stderr.write(`warning: ${w}\n`)
    })
}
