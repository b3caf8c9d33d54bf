import type { Command } from 'commander'
import { withCore } from '../connect.ts'
import { pointOption, withCommonOptions } from '../common.ts'
import type { CommonOptions } from '../common.ts'
import { formatBytes } from '../../common/sizes.ts'
import { printJson, printTable } from '../output.ts'

/** What a special file is, after its name. */
function special (r: { type: string, rdev?: [number, number] }): string {
  if (r.type === 'fifo') return ' (fifo)'
  if (r.type === 'char' || r.type === 'block') return ` (${r.type} device ${r.rdev?.join(',') ?? ''})`
  return ''
}

export function register (program: Command): void {
  withCommonOptions(program.command('ls'))
    .description('browse a recovery point')
    .argument('<machine>', 'machine name')
    .argument('[path]', 'path inside the volume (default: the volume root)')
    .option('--point <point>', 'latest, a seq as drcore points shows it, or a point id or its unique start', 'latest')
    .option('--volume <name>', 'volume (default: list the volumes, or the only one)')
    .action(async (machine: string, path: string | undefined, opts: CommonOptions & { point?: string, volume?: string }) => {
      const result = await withCore(opts.repo, async core => await core.call('ls', { machine, path, point: pointOption(opts.point), volume: opts.volume }))
      if (opts.json === true) return printJson(result)
      const entries: any[] = result
      const shown = (name: string, escaped: boolean | undefined): string => escaped === true ? `${name} (escaped)` : name
      printTable<any>(entries, [
        { header: 'mode', value: r => r.mode != null ? (r.mode & 0o7777).toString(8).padStart(4, '0') : '' },
        { header: 'size', value: r => r.type === 'dir' ? '' : formatBytes(r.size ?? 0) },
        { header: 'modified', value: r => typeof r.mtime === 'string' ? r.mtime.slice(0, 19).replace('T', ' ') : '' },
        { header: 'present', value: r => r.present === false ? 'missing' : '' },
        { header: 'name', value: r => r.type === 'dir' ? shown(`${r.name}/`, r.escaped) : r.type === 'symlink' ? `${shown(r.name, r.escaped)} -> ${shown(r.target, r.targetEscaped)}` : shown(r.name + special(r), r.escaped) }
      ], '(empty)')
      if (entries.some(r => r.escaped === true || r.targetEscaped === true)) {
        process.stdout.write('(escaped): the name is not valid UTF-8; \\xHH stands for a byte, \\\\ for a backslash; --path takes this form\n')
      }
    })
}
