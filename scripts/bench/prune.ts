/**
 * Section `prune`: garbage collection after retention, drcore against restic on the same data
 * and the same backups, in the same run.
 *
 * One machine with two volumes, a tree of real files and an ext4 image, is backed up by each
 * tool into its own repository DAYS times, with a day's change between backups: files edited,
 * added (real files of other system directories) and deleted, in the tree and inside the image
 * (through debugfs, never mounted), and blocks of the image's files rewritten in place. Then
 * every point but the last KEEP is forgotten and the dead data freed:
 * `drcore forget M --keep-last KEEP` + `drcore prune` against
 * `restic forget --keep-last KEEP --prune`. Reported: their wall time, the bytes freed and the
 * repository before and after (`du -sb`), dead bytes left, packs deleted and rewritten, and the
 * prune's peak RSS.
 *
 * A prune that loses data fails the section: afterwards `drcore verify` must pass, the machine
 * must hold exactly the kept points, complete, and each kept point must restore to exactly what
 * was backed up that day (every file's bytes, mode and kind, and the image's sha256); restic's
 * repository must pass `restic check` and hold KEEP snapshots.
 */
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { DRCORE_JS, NODE_BIN, duBytes, formatBytes, lastJson, resetDir, run, sha256File, timed } from './lib.ts'
import type { BenchContext, BenchSection, Row, SectionResult, TimedResult } from './lib.ts'
import { imageCorpus, treeCorpus } from './corpora.ts'
import type { ImageCorpus, TreeCorpus } from './corpora.ts'
import { AdditionPool, EDIT_BYTES, changeImage, changeTree, manifestDiff, treeManifest } from './churn.ts'
import type { Change } from './churn.ts'
import { formatSummary, summarizeDir } from './profile.ts'

const MiB = 2 ** 20
const GiB = 2 ** 30
const FILL = 0.65
const IMAGE_SOURCES = ['/usr/lib', '/usr/share']
/** Where added files come from: real files of directories neither corpus was built from. */
const ADDITION_SOURCES = ['/usr/include', '/usr/bin', '/usr/sbin', '/usr/libexec']
const RESTIC_PASSWORD = 'drcore-bench'
const SEED = 'drcore-bench-prune-v1'
/** A day's change: tree files edited and deleted, bytes added (share of the corpus), image blocks rewritten. */
const CHANGE = { edit: 0.02, remove: 0.01, add: 0.01, rewrite: 0.005 }
/** The issue's target: prune (with forget) takes at most restic's time, and frees at least what restic frees. */
const TIME_TARGET = 1.0
const FREED_TARGET = 1.0

interface Plan {
  corporaDir: string
  treeName: string
  treeSource: string
  image: number
  days: number
  keep: number
}

/**
 * Default: a few minutes on a quiet 2-core machine. `--full`: the tree and 1 GiB image of the
 * backup section. `BENCH_PRUNE_DAYS`, `BENCH_PRUNE_KEEP` and `BENCH_PRUNE_IMAGE_MIB` override
 * the chain's length, the points kept and the image's size in any mode.
 */
function plan (ctx: BenchContext): Plan {
  const p: Plan = ctx.mode === 'quick'
    ? { corporaDir: 'corpora-quick', treeName: 'tree', treeSource: '/usr/share/doc', image: 128 * MiB, days: 4, keep: 2 }
    : ctx.mode === 'full'
      ? { corporaDir: 'corpora', treeName: 'tree', treeSource: '/usr/share', image: GiB, days: 10, keep: 2 }
      : { corporaDir: 'corpora', treeName: 'tree-doc', treeSource: '/usr/share/doc', image: 128 * MiB, days: 10, keep: 2 }
  const days = process.env.BENCH_PRUNE_DAYS
  const mib = process.env.BENCH_PRUNE_IMAGE_MIB
  const keep = process.env.BENCH_PRUNE_KEEP
  if (keep !== undefined) {
    p.keep = Number(keep)
    if (!Number.isInteger(p.keep) || p.keep < 1) throw new Error(`BENCH_PRUNE_KEEP wants a positive integer, not "${keep}"`)
  }
  if (days !== undefined) {
    p.days = Number(days)
    if (!Number.isInteger(p.days)) throw new Error(`BENCH_PRUNE_DAYS wants an integer, not "${days}"`)
  }
  if (p.days <= p.keep) throw new Error(`the chain of ${p.days} days must be longer than the ${p.keep} points kept (BENCH_PRUNE_DAYS, BENCH_PRUNE_KEEP)`)
  if (mib !== undefined) {
    const n = Number(mib)
    if (!Number.isInteger(n) || n < 32) throw new Error(`BENCH_PRUNE_IMAGE_MIB wants an integer of at least 32, not "${mib}"`)
    p.image = n * MiB
  }
  return p
}

const sizeLabel = (bytes: number): string => bytes >= GiB ? `${bytes / GiB} GiB` : `${bytes / MiB} MiB`
const imageName = (bytes: number): string => `image-${sizeLabel(bytes).replace(' ', '').replace('iB', '').toLowerCase()}`

interface Measured { wallSeconds: number, userSeconds: number, sysSeconds: number, maxRssBytes: number, loadBefore: number }

function measured (t: TimedResult): Measured {
  const { wallSeconds, userSeconds, sysSeconds, maxRssBytes, loadBefore } = t
  return { wallSeconds, userSeconds, sysSeconds, maxRssBytes, loadBefore }
}

interface ResticPrune extends Measured {
  repoBefore: number
  repoAfter: number
  packsDeleted: number | null
  packsRepacked: number | null
  /** "unused size after prune" */
  unusedAfter: number | null
  /** "total prune": the bytes of the blobs it removed */
  pruned: number | null
  snapshotsRemoved: number
  /** the statistics lines of its output */
  stats: string
}

interface DrcorePrune {
  forget: Measured & { output: { kept: string[], removed: string[] } }
  prune: Measured & { output: Record<string, number | boolean | string[]> }
  repoBefore: number
  repoAfter: number
}

const UNITS: Record<string, number> = { B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 }

/** restic 0.14 `forget --prune -v`: its pack counts and the unused size it leaves. */
function resticStats (out: string): Pick<ResticPrune, 'packsDeleted' | 'packsRepacked' | 'unusedAfter' | 'pruned' | 'snapshotsRemoved' | 'stats'> {
  const num = (re: RegExp): number | null => { const m = out.match(re); return m === null ? null : Number(m[1]) }
  const size = (re: RegExp): number | null => { const m = out.match(re); return m === null ? null : Math.round(Number(m[1]) * UNITS[m[2]]) }
  return {
    packsDeleted: num(/^to delete:\s+(\d+) packs$/m),
    packsRepacked: num(/^to repack:\s+(\d+) packs$/m),
    unusedAfter: size(/^unused size after prune: ([\d.]+) (B|KiB|MiB|GiB|TiB)/m),
    pruned: size(/^total prune:\s+\d+ blobs \/ ([\d.]+) (B|KiB|MiB|GiB|TiB)/m),
    snapshotsRemoved: num(/^(\d+) snapshots have been removed/m) ?? 0,
    stats: out.split('\n').filter(l => /^(unused size|to |this removes|total prune|remaining|totally used|partly used|unused packs|removing)/.test(l)).join('\n')
  }
}

async function run_ (ctx: BenchContext): Promise<SectionResult> {
  const p = plan(ctx)
  const corpora = path.join(ctx.work, p.corporaDir)
  const base = path.join(ctx.work, 'prune')
  const notes: string[] = []
  const details: Record<string, unknown> = { plan: p, change: CHANGE, seed: SEED }
  const withDrcore = ctx.drcore.available
  const resticEnv = { ...process.env, RESTIC_PASSWORD }
  const drcore = async (args: string[], okCodes: number[] = []): Promise<string> =>
    (await run(NODE_BIN, [DRCORE_JS, ...args], { okCodes })).stdout

  const tree: TreeCorpus = await treeCorpus(corpora, p.treeName, p.treeSource, ctx.log)
  const image: ImageCorpus = await imageCorpus(corpora, imageName(p.image), p.image, FILL, IMAGE_SOURCES, ctx.log)
  details.corpora = { tree, image }
  resetDir(base)
  const data = path.join(base, 'data')
  await mkdir(data, { recursive: true })
  ctx.log('copying the tree and the image to the work area')
  const treeCopy = path.join(data, 'tree')
  const disk = path.join(data, 'disk.img')
  await run('cp', ['-a', tree.path, treeCopy])
  await run('cp', ['--sparse=always', image.path, disk])
  const pool = await AdditionPool.of(ADDITION_SOURCES, SEED)

  // One machine with two volumes, the tree and the image; one repository per tool.
  const machine = 'host'
  const resticRepo = path.join(base, 'restic')
  const drcoreRepo = path.join(base, 'drcore')
  const resticArgs = ['--repo', resticRepo, '--cache-dir', `${resticRepo}.cache`]
  await run('restic', ['init', ...resticArgs, '--repository-version', '2', '-q'], { env: resticEnv })
  if (withDrcore) await drcore(['init', '--repo', drcoreRepo, '--name', 'bench', '--json'])

  // -------------------------------------------------------------------------------------------
  // The chain: a day's change, then both tools back up (not a figure of this section; logged)
  const points: string[] = []
  /** what each kept day held: the tree's manifest and the image's sha256 */
  const expected = new Map<number, { tree: string[], disk: string }>()
  const changes: Array<{ tree: Change, image: Change }> = []
  const backups: { restic: number[], drcore: number[] } = { restic: [], drcore: [] }
  const t0 = Date.now()
  for (let day = 0; day < p.days; day++) {
    if (day > 0) {
      const c = {
        tree: await changeTree(treeCopy, day, pool, { edit: CHANGE.edit, remove: CHANGE.remove, addBytes: CHANGE.add * tree.bytes, seed: SEED }),
        image: await changeImage(disk, day, pool, { remove: CHANGE.remove, addBytes: CHANGE.add * image.contentBytes, rewrite: CHANGE.rewrite, seed: SEED, sizeBytes: image.sizeBytes })
      }
      changes.push(c)
      if (day === 1) {
        ctx.log(`a day's change: tree ${c.tree.edited} files edited, ${c.tree.added} added (${formatBytes(c.tree.addedBytes)}), ${c.tree.deleted} deleted; ` +
          `image ${c.image.edited} blocks rewritten, ${c.image.added} files added (${formatBytes(c.image.addedBytes)}), ${c.image.deleted} deleted`)
      }
    }
    if (day >= p.days - p.keep) expected.set(day, { tree: await treeManifest(treeCopy), disk: await sha256File(disk) })
    const r = await timed('restic', ['backup', ...resticArgs, '--host', 'bench', '--json', '-q', treeCopy, disk], { env: resticEnv, okCodes: [3] })
    if (r.code === 3) notes.push(`restic could not read some files on day ${day} (exit 3)`)
    backups.restic.push(r.wallSeconds)
    if (withDrcore) {
      const d = await timed(NODE_BIN, [DRCORE_JS, 'backup', machine, `tree=${treeCopy}`, `disk=${disk}`, '--repo', drcoreRepo, '--json'], { okCodes: [3] })
      if (d.code === 3) notes.push(`drcore skipped some entries on day ${day} (exit 3)`)
      points.push(lastJson<{ point: string }>(d.stdout).point)
      backups.drcore.push(d.wallSeconds)
    }
    ctx.log(`  day ${day + 1}/${p.days} backed up: restic ${r.wallSeconds.toFixed(1)} s${withDrcore ? `, drcore ${backups.drcore[day].toFixed(1)} s` : ''} (${((Date.now() - t0) / 1000).toFixed(0)} s so far)`)
  }
  details.chain = { changes, backupSeconds: backups, points }

  // -------------------------------------------------------------------------------------------
  // Forget and prune, timed
  ctx.log(`forget all but the last ${p.keep} of ${p.days} points, then prune`)
  await run('sync', [])
  const rBefore = await duBytes(resticRepo)
  const r = await timed('restic', ['forget', ...resticArgs, '--keep-last', String(p.keep), '--prune', '-v'], { env: resticEnv })
  const restic: ResticPrune = { ...measured(r), repoBefore: rBefore, repoAfter: await duBytes(resticRepo), ...resticStats(r.stdout) }
  ctx.log(`  restic forget --prune: ${r.wallSeconds.toFixed(2)} s, repository ${formatBytes(rBefore)} -> ${formatBytes(restic.repoAfter)}, max RSS ${formatBytes(r.maxRssBytes)}`)
  details.restic = restic

  let dr: DrcorePrune | undefined
  const problems: string[] = []
  if (withDrcore) {
    await run('sync', [])
    const dBefore = await duBytes(drcoreRepo)
    const f = await timed(NODE_BIN, [DRCORE_JS, 'forget', machine, '--keep-last', String(p.keep), '--repo', drcoreRepo, '--json'])
    const forgot = lastJson<{ kept: string[], removed: string[] }>(f.stdout)
    const profDir = path.join(ctx.work, 'profiles', 'prune')
    if (ctx.profile) resetDir(profDir)
    const d = await timed(NODE_BIN, [...(ctx.profile ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []), DRCORE_JS, 'prune', '--repo', drcoreRepo, '--json'])
    const pruned = lastJson<Record<string, number | boolean | string[]>>(d.stdout)
    await run('sync', [])
    dr = {
      forget: { ...measured(f), output: { kept: forgot.kept, removed: forgot.removed } },
      prune: { ...measured(d), output: pruned },
      repoBefore: dBefore,
      repoAfter: await duBytes(drcoreRepo)
    }
    details.drcore = dr
    ctx.log(`  drcore forget ${f.wallSeconds.toFixed(2)} s + prune ${d.wallSeconds.toFixed(2)} s (prune's own count ${Number(pruned.seconds).toFixed(2)} s): repository ${formatBytes(dBefore)} -> ${formatBytes(dr.repoAfter)}, ` +
      `${String(pruned.blocksRemoved)} blocks removed, ${String(pruned.packsDeleted)} packs deleted, ${String(pruned.packsRewritten)} rewritten, max RSS ${formatBytes(d.maxRssBytes)}`)
    if (ctx.profile) {
      const sums = await summarizeDir(profDir)
      details.profile = sums
      for (const sum of sums) notes.push(`[prune] ${formatSummary(sum)}`)
      notes.push('drcore ran under --cpu-prof: its prune time in this run includes profiling overhead')
    }
    if ([...forgot.removed].sort().join() !== points.slice(0, -p.keep).sort().join()) problems.push(`forget removed ${forgot.removed.length} points, not the ${p.days - p.keep} oldest`)
    problems.push(...await checkDrcore(ctx, drcoreRepo, machine, points.slice(-p.keep), p.days - p.keep, expected, base))
  }
  problems.push(...await checkRestic(resticArgs, resticEnv, p, restic))
  // A benchmark of a prune that lost data measures nothing: the section fails.
  if (problems.length > 0) throw new Error(`the prune left wrong data: ${problems.join('; ')}`)

  // -------------------------------------------------------------------------------------------
  // Rows
  const label = `tree (${tree.source}, ${Math.round(tree.files / 100) / 10}k files, ${formatBytes(tree.bytes)}) + ${sizeLabel(image.sizeBytes)} ext4 image (${(image.fill * 100).toFixed(0)}% full)`
  const rows: Row[] = [
    {
      metric: `${label}, ${p.days} daily points, forget all but the last ${p.keep}: forget + prune wall time`,
      unit: 'seconds',
      drcore: dr === undefined ? null : dr.prune.wallSeconds + dr.forget.wallSeconds,
      anchor: { name: 'restic forget --prune', value: restic.wallSeconds },
      target: { kind: 'ratio-max', value: TIME_TARGET }
    },
    {
      metric: 'same: bytes freed (du -sb of the repository, before - after)',
      unit: 'bytes',
      drcore: dr === undefined ? null : dr.repoBefore - dr.repoAfter,
      anchor: { name: 'restic', value: restic.repoBefore - restic.repoAfter },
      target: { kind: 'ratio-min', value: FREED_TARGET }
    },
    { metric: 'same: repository size before (du -sb)', unit: 'bytes', drcore: dr?.repoBefore ?? null, anchor: { name: 'restic', value: restic.repoBefore } },
    { metric: 'same: repository size after (du -sb)', unit: 'bytes', drcore: dr?.repoAfter ?? null, anchor: { name: 'restic', value: restic.repoAfter } },
    {
      metric: 'same: dead data after forget (freed + left dead in packs)',
      unit: 'bytes',
      drcore: dr === undefined ? null : Number(dr.prune.output.bytesFreed) + Number(dr.prune.output.deadBytesLeft),
      anchor: restic.pruned === null || restic.unusedAfter === null ? null : { name: 'restic', value: restic.pruned + restic.unusedAfter },
      note: 'drcore: bytesFreed + deadBytesLeft of prune --json; restic: "total prune" + "unused size after prune"'
    },
    {
      metric: 'same: dead bytes left in packs after prune',
      unit: 'bytes',
      drcore: dr === undefined ? null : Number(dr.prune.output.deadBytesLeft),
      anchor: restic.unusedAfter === null ? null : { name: 'restic unused', value: restic.unusedAfter }
    },
    { metric: 'same: packs deleted (no live data)', unit: 'count', drcore: dr === undefined ? null : Number(dr.prune.output.packsDeleted), anchor: restic.packsDeleted === null ? null : { name: 'restic', value: restic.packsDeleted } },
    { metric: 'same: packs rewritten (live data copied out)', unit: 'count', drcore: dr === undefined ? null : Number(dr.prune.output.packsRewritten), anchor: restic.packsRepacked === null ? null : { name: 'restic repacked', value: restic.packsRepacked } },
    { metric: 'same: peak RSS of the prune', unit: 'bytes', drcore: dr?.prune.maxRssBytes ?? null, anchor: { name: 'restic forget --prune', value: restic.maxRssBytes } }
  ]
  notes.push(`a day's change: ${CHANGE.edit * 100}% of the tree's files edited (${EDIT_BYTES} bytes each), ${CHANGE.remove * 100}% of the files deleted (tree and image), new files from ${ADDITION_SOURCES.join(', ')} worth ${CHANGE.add * 100}% of the content added (tree and image), ${CHANGE.rewrite * 100}% of the image's 4 KiB blocks rewritten in place among its files' data blocks; the image is changed with debugfs, never mounted`)
  notes.push(`checked after the prune (the section fails otherwise): drcore verify passes, the machine holds exactly its last ${p.keep} points, complete, each restoring to what was backed up that day (tree: every entry's kind, mode, size and sha256; image: sha256); restic check passes and ${p.keep} snapshots remain`)
  return { rows, details, notes }

  /** Verify, the kept points and nothing else, complete, each restoring to its day's data. */
  async function checkDrcore (ctx: BenchContext, repo: string, machine: string, kept: string[], firstKeptDay: number,
    expected: Map<number, { tree: string[], disk: string }>, scratch: string): Promise<string[]> {
    const out: string[] = []
    const t0 = Date.now()
    const res = await run(NODE_BIN, [DRCORE_JS, 'verify', '--repo', repo, '--json'], { okCodes: [1, 2, 3] })
    const v = lastJson<{ ok?: boolean }>(res.stdout)
    if (res.code !== 0 || v.ok !== true) out.push(`drcore verify exited ${res.code}: ${JSON.stringify(v).slice(0, 300)}`)
    const listed = lastJson<Array<{ point: string, complete: boolean }>>(await drcore(['points', machine, '--repo', repo, '--json']))
    if (listed.map(x => x.point).sort().join() !== [...kept].sort().join()) out.push(`the machine holds ${listed.map(x => x.point).join(', ')}, not the kept ${kept.join(', ')}`)
    for (const x of listed) if (!x.complete) out.push(`point ${x.point} is not complete`)
    for (const [i, id] of kept.entries()) {
      const day = firstKeptDay + i
      const want = expected.get(day)!
      const dest = path.join(scratch, 'restore')
      resetDir(dest)
      try {
        await drcore(['restore', machine, dest, '--point', id, '--repo', repo])
        const got = await sha256File(path.join(dest, 'disk'))
        if (got !== want.disk) out.push(`day ${day}'s point restores an image of sha256 ${got}, not ${want.disk}`)
        const diff = manifestDiff(want.tree, await treeManifest(path.join(dest, 'tree')))
        if (diff.length > 0) out.push(`day ${day}'s point restores other files: ${diff.join(' | ')}`)
      } catch (err) {
        out.push(`restore of day ${day}'s point failed: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`)
      } finally {
        resetDir(dest)
      }
    }
    ctx.log(`  drcore check ${out.length === 0 ? 'passed' : 'FAILED'}: verify, ${kept.length} kept points complete, each restoring to its day's data (${((Date.now() - t0) / 1000).toFixed(1)} s)`)
    return out
  }
}

/** restic check passes, and KEEP snapshots are left. */
async function checkRestic (args: string[], env: NodeJS.ProcessEnv, p: Plan, r: ResticPrune): Promise<string[]> {
  const out: string[] = []
  await run('restic', ['check', ...args, '-q'], { env }).catch((err: Error) => out.push(`restic check: ${err.message.split('\n').slice(0, 3).join(' ')}`))
  const snaps = lastJson<unknown[]>((await run('restic', ['snapshots', ...args, '--json'], { env })).stdout)
  if (snaps.length !== p.keep) out.push(`restic holds ${snaps.length} snapshots after forget, not ${p.keep}`)
  if (r.snapshotsRemoved !== p.days - p.keep) out.push(`restic removed ${r.snapshotsRemoved} snapshots, not ${p.days - p.keep}`)
  return out
}

export const section: BenchSection = {
  name: 'prune',
  title: 'Prune after retention: drcore forget + prune vs restic forget --prune',
  tools: [
    { bin: 'restic', pkg: 'restic' },
    { bin: 'mke2fs', pkg: 'e2fsprogs' },
    { bin: 'dumpe2fs', pkg: 'e2fsprogs' },
    { bin: 'debugfs', pkg: 'e2fsprogs' },
    { bin: 'sync', pkg: 'coreutils' },
    { bin: '/usr/bin/time', pkg: 'time' }
  ],
  run: run_
}
