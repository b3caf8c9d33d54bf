import type { Command } from 'commander'
import { resolveRepoDir } from '../../repo/dir.ts'
import { withCore } from '../connect.ts'
import { withCommonOptions } from '../common.ts'
import type { CommonOptions } from '../common.ts'
import { printJson } from '../output.ts'
import { progressBar } from '../progress.ts'

export function register (program: Command): void {
  const index = program.command('index').description('the block index of the repository')
  withCommonOptions(index.command('rebuild'))
    .description('rebuild the block index from the pack files alone (local, or in the bucket), then verify every block')
    .action(async (opts: CommonOptions) => {
      const dir = resolveRepoDir(opts.repo)
      const { rebuildRepositoryIndex } = await import('../../core/index.ts')
      const rebuilt = await rebuildRepositoryIndex(dir)
      if (opts.json !== true) {
        process.stdout.write(`index rebuilt from ${rebuilt.packs} packs: ${rebuilt.blocks} blocks; ${rebuilt.pointsRecovered} of this Core's points recorded again from their manifests\n`)
        if (rebuilt.foreignManifests > 0) process.stdout.write(`${rebuilt.foreignManifests} points of other Cores are in the packs: their records come back with the next replication from them\n`)
        for (const c of rebuilt.corrupt) process.stdout.write(`left out (corrupt): ${c}\n`)
        for (const d of rebuilt.damaged) process.stdout.write(`damaged pack: ${d}\n`)
      }
      const bar = progressBar(opts.json !== true)
      const verified = await withCore(opts.repo, async core => await core.call('verify', {}, bar.onProgress)).finally(() => bar.stop())
      if (opts.json === true) printJson({ rebuilt, verified })
      else process.stdout.write(`${verified.blocks} blocks checked: ${verified.corrupt.length} corrupt, ${verified.missing.length} missing\n${verified.ok ? 'ok' : 'FAILED'}\n`)
      if (!verified.ok || rebuilt.corrupt.length > 0) process.exitCode = 1
    })
}
