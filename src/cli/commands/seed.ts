import type { Command } from 'commander'
import { resolve } from 'node:path'
import { withCore } from '../connect.ts'
import { runLong, withDetach } from '../long-operation.ts'
import type { LongOptions } from '../long-operation.ts'
import { withCommonOptions } from '../common.ts'
import type { CommonOptions } from '../common.ts'
import { formatBytes } from '../../common/sizes.ts'
import { peerText, printJson, printTable } from '../output.ts'
import type { PeerRef } from '../../api/peer-ref.ts'
import type { SeedConsumeResult, SeedCreateOutput, SeedRow } from '../../seed/api.ts'

export function register (program: Command): void {
  const seed = program.command('seed').description('seed drives: carry recovery points to another Core on removable media')

  withDetach(withCommonOptions(seed.command('create')))
    .description('write recovery points as CAR parts, by default those that seed-drive rules wait for')
    .requiredOption('--out <dir>', 'directory to write the parts to')
    .option('--machines <names>', 'comma-separated machines (TENANT/MACHINE when ambiguous)', list)
    .option('--all', 'every machine on this Core')
    .option('--to <peer>', 'the Core that will consume it (peer id or name)')
    .option('--max-size <size>', 'largest part, e.g. 700M or 4G (default: one part)')
    .action(async (opts: LongOptions & { out: string, machines?: string[], all?: boolean, to?: string, maxSize?: string }) => {
      const result = await runLong<SeedCreateOutput>(opts, 'seedCreate', { out: resolve(opts.out), machines: opts.machines, all: opts.all, to: opts.to, maxSize: opts.maxSize },
        'the seed drive', `no seed was recorded, and the parts it had written in ${resolve(opts.out)} were removed`)
      if (result === undefined) return
      for (const s of result.skipped) process.stderr.write(`left out point ${s.point} of ${s.machine}: ${s.reason}\n`)
      if (result.removed.length > 0) process.stderr.write(`removed ${result.removed.length} files an interrupted seed create had left in ${resolve(opts.out)}\n`)
      if (opts.json === true) return printJson(result)
      const target = result.target != null ? peerText(result.target) : null
      process.stdout.write(`seed ${result.seed}${target != null ? ` for ${target}` : ''}: ${result.points} points, ` +
        `${result.blocks} blocks, ${formatBytes(result.bytes)} in ${result.parts.length} part${result.parts.length > 1 ? 's' : ''} (${result.seconds.toFixed(1)} s)\n`)
      for (const part of result.parts) process.stdout.write(`  ${part.file}  ${formatBytes(part.size)}\n`)
    })

  withCommonOptions(seed.command('list'))
    .description('seeds written here (outgoing) and seeds consumed here (incoming)')
    .action(async (opts: CommonOptions) => {
      const rows = await withCore(opts.repo, async core => await core.call('seeds') as SeedRow[])
      if (opts.json === true) return printJson(rows)
      printTable(rows, [
        { header: 'seed', value: r => r.seed },
        { header: 'direction', value: r => r.direction },
        { header: 'state', value: r => r.missingParts.length > 0 ? `${r.state} (missing ${r.missingParts.join(',')})` : r.state },
        { header: 'peer', value: r => r.direction === 'outgoing' ? (r.target != null ? peerText(r.target) : 'any') : peerText(r.source) },
        { header: 'machines', value: r => r.machines.join(',') },
        { header: 'points', value: r => r.points },
        { header: 'oldest', value: r => r.oldest },
        { header: 'newest', value: r => r.newest },
        { header: 'parts', value: r => r.parts }
      ], '(no seeds)')
    })

  withCommonOptions(seed.command('abandon'))
    .description('give up on a seed: the next replication job sends its points over the network')
    .argument('<seed>', 'seed id (drcore seed list)')
    .action(async (id: string, opts: CommonOptions) => {
      const result = await withCore(opts.repo, async core => await core.call('seedAbandon', { seed: id }))
      if (opts.json === true) return printJson(result)
      const rules = result.rules.map((r: { machine: string, to: PeerRef }) => `${r.machine} -> ${peerText(r.to)}`)
      process.stdout.write(`seed ${result.seed} abandoned${rules.length > 0 ? `; rules ${rules.join(', ')} send its points over the network with their next job` : ''}\n`)
    })

  withDetach(withCommonOptions(seed.command('consume')))
    .description('import every part of a seed found in a directory (any order, again and again)')
    .argument('<dir>', 'directory holding the .car.zst parts (or .car parts of older seeds)')
    .action(async (dir: string, opts: LongOptions) => {
      const result = await runLong<SeedConsumeResult>(opts, 'seedConsume', { dir: resolve(dir) }, 'the seed import', 'the parts imported so far stay; consume again to finish')
      if (result === undefined) return
      if (opts.json === true) printJson(result)
      else printConsume(result)
      for (const error of result.errors) process.stderr.write(`drcore: ${error}\n`)
      if (result.errors.length > 0) process.exitCode = 1
    })
}

function printConsume (result: SeedConsumeResult): void {
  if (result.seed == null) return
  const out = (line: string): void => { process.stdout.write(line + '\n') }
  out(`seed ${result.seed}${result.tenant === '' ? '' : ` into tenant ${result.tenant ?? '?'}`}`)
  for (const p of result.parts) {
    out(`  part ${p.part}: ${p.state}${p.state === 'already imported' ? '' : `, ${p.blocks} blocks verified, ${p.imported} new${p.rejected > 0 ? `, ${p.rejected} refused` : ''}`}`)
  }
  for (const point of result.pointsCompleted) out(`  point ${point} is complete`)
  out(result.complete
    ? `every part of the seed is in; ${result.pointsCompleted.length} points completed`
    : `parts still missing: ${result.missingParts.join(', ')}; ${result.pointsCompleted.length} points completed`)
}

function list (value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map(v => v.trim()).filter(v => v !== '')]
}
