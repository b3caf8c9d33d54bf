import type { Command } from 'commander'
import { withCore } from '../connect.ts'
import { withCommonOptions } from '../common.ts'
import type { CommonOptions } from '../common.ts'
import { formatBytes } from '../../common/sizes.ts'
import { printJson } from '../output.ts'
import { progressBar } from '../progress.ts'
import type { PruneResult } from '../../prune/index.ts'

export function register (program: Command): void {
  withCommonOptions(program.command('prune'))
    .description('free the blocks no recovery point needs any more (after forget), and rewrite pack files that are mostly dead; safe while backups and transfers run')
    .option('--dry-run', 'say what would be freed, change nothing')
    .action(async (opts: CommonOptions & { dryRun?: boolean }) => {
      const bar = progressBar(opts.json !== true)
      const r: PruneResult = await withCore(opts.repo, async core => await core.call('prune', { dryRun: opts.dryRun === true }, bar.onProgress)).finally(() => bar.stop())
      if (opts.json === true) return printJson(r)
      process.stdout.write(describePrune(r))
    })
}

/** The human report. */
export function describePrune (r: PruneResult): string {
  const lines: string[] = []
  const would = r.dryRun ? 'would ' : ''
  if (r.waitedForWriters >= 1) lines.push(`waited ${r.waitedForWriters.toFixed(0)} s for backups and transfers that started before the prune`)
  lines.push(`${r.points} points keep ${r.blocksKept} blocks; ${r.blocksRemoved} blocks ${r.dryRun ? 'are' : 'were'} needed by none`)
  if (r.blocksRemoved === 0 && r.packsDeleted === 0 && r.packsRewritten === 0) {
    lines.push(`nothing to free (${formatBytes(r.deadBytesLeft)} dead in packs not worth rewriting)`)
  } else {
    lines.push(`${would}free ${formatBytes(r.bytesFreed)}: ${r.packsDeleted} pack${r.packsDeleted === 1 ? '' : 's'} ${would}deleted, ` +
      `${r.packsRewritten} ${would}rewritten (${formatBytes(r.bytesCopied)} of live blocks copied); ` +
      `packs ${formatBytes(r.bytesBefore)} -> ${formatBytes(r.bytesAfter)}, ${formatBytes(r.deadBytesLeft)} dead left`)
  }
  if (r.packsKept > 0) lines.push(`${r.packsKept} pack${r.packsKept === 1 ? '' : 's'} kept: blocks in them became live during the prune, or they did not read (the next prune takes them)`)
  for (const cid of r.damaged) lines.push(`damaged block ${cid} did not verify while being copied: quarantined, drcore repair brings a good copy`)
  if (r.dryRun) lines.push('dry run: nothing was changed')
  return lines.join('\n') + '\n'
}
