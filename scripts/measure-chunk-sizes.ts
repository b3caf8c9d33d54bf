/**
 * Measures the chunk sizes a repository may be created with (`drcore init --chunk-size`) on a
 * real volume image (docs/chunking.md, "Per repository"): for each average, a fresh repository,
 * a first backup of the image, then a share of its 4 KiB blocks rewritten in place (random bytes,
 * zeros or one repeated byte, seeded: test/helpers/real-data.ts `rewriteBlocks`) and a second
 * backup. Prints what each stored, its repository's size and the backups' times; every
 * repository is verified (full rehash) at the end.
 *
 *   npx node scripts/measure-chunk-sizes.ts [--image bench-work/corpora/image-1g.img]
 *     [--share 0.02] [--sizes 16,32,64] [--work /tmp/chunk-sizes]
 *
 * The image is copied into the work dir (the original is never written). Build one with the
 * benchmark's recipe (`npm run bench -- --only backup` makes bench-work/corpora/image-1g.img).
 */
import { copyFile, mkdir, rm } from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { rewriteBlocks } from '../test/helpers/real-data.ts'
import { DRCORE_JS, duBytes, formatBytes, lastJson, NODE_BIN, REPO_ROOT, run, table, timed, warmCache } from './bench/lib.ts'

const { values } = parseArgs({
  options: {
    image: { type: 'string', default: path.join(REPO_ROOT, 'bench-work', 'corpora', 'image-1g.img') },
    share: { type: 'string', default: '0.02' },
    sizes: { type: 'string', default: '16,32,64' },
    work: { type: 'string', default: path.join(REPO_ROOT, 'bench-work', 'chunk-sizes') }
  }
})
const share = Number(values.share)
const sizes = values.sizes.split(',').map(s => Number(s.trim()))
const work = values.work
await rm(work, { recursive: true, force: true })
await mkdir(work, { recursive: true })

const drcore = async (args: string[]): Promise<any> => lastJson((await run(NODE_BIN, [DRCORE_JS, ...args, '--json'])).stdout)

const rows: string[][] = []
for (const kib of sizes) {
  const repo = path.join(work, `repo-${kib}k`)
  const image = path.join(work, 'disk.img')
  await copyFile(values.image, image)
  await drcore(['init', '--repo', repo, '--name', `chunk-${kib}k`, '--chunk-size', `${kib}K`])
  await warmCache(image)
  const first = await timed(NODE_BIN, [DRCORE_JS, 'backup', 'box', `disk=${image}`, '--repo', repo, '--json'])
  const initial = lastJson<any>(first.stdout)
  const initialRepo = await duBytes(repo)
  const rewrite = await rewriteBlocks(image, share, 'drcore chunk sizes')
  await warmCache(image)
  const second = await timed(NODE_BIN, [DRCORE_JS, 'backup', 'box', `disk=${image}`, '--repo', repo, '--json'])
  const incremental = lastJson<any>(second.stdout)
  const grown = await duBytes(repo) - initialRepo
  const verify = await drcore(['verify', '--repo', repo])
  if (verify.ok !== true) throw new Error(`verify of ${repo} failed: ${JSON.stringify(verify)}`)
  process.stderr.write(`${kib}K: ${rewrite.blocks.length} blocks rewritten; initial ${first.wallSeconds.toFixed(1)} s, incremental ${second.wallSeconds.toFixed(1)} s, verify ok (${verify.blocks} blocks)\n`)
  rows.push([
    `${kib / 4}K / ${kib}K / ${kib * 4}K`,
    formatBytes(initial.storedBytes),
    formatBytes(initialRepo),
    `${first.wallSeconds.toFixed(1)} s (${(first.userSeconds + first.sysSeconds).toFixed(1)} s CPU)`,
    formatBytes(first.maxRssBytes),
    `${rewrite.blocks.length}`,
    formatBytes(incremental.newBytes),
    formatBytes(incremental.storedBytes),
    formatBytes(grown),
    `${second.wallSeconds.toFixed(1)} s (${(second.userSeconds + second.sysSeconds).toFixed(1)} s CPU)`,
    `${verify.blocks}`
  ])
  await rm(image, { force: true })
}
process.stdout.write(table(['min / avg / max', 'initial: stored', 'repository', 'initial: time', 'peak RSS', 'blocks rewritten', 'incremental: new chunk bytes', 'incremental: stored', 'repository growth', 'incremental: time', 'blocks in repository'], rows) + '\n')
await rm(work, { recursive: true, force: true })
