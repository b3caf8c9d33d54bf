/**
 * Section `backup`: drcore against restic on the same data, in the same run.
 *
 * 1. initial backup wall time of a tree of real small files (a copy of /usr/share);
 * 2. initial backup wall time of an ext4 volume image (1 GiB, ~65% full of real files);
 * 3. rewrite 0.5% of that image's 4 KiB blocks at random (fixed seed), back it up again:
 *    drcore's `storedBytes` against the growth of restic's repository (`du -sb`);
 * 4. peak RSS of the drcore process backing up a 4 GiB image (restic's shown for reference).
 *
 * Every repository is fresh; both tools read from a warm page cache (each corpus is read once
 * right before each timed backup). restic uses repository format 2 (zstd compression "auto"),
 * the counterpart of drcore's zstd packs.
 */
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import {
  DRCORE_JS, IMAGE_MUTATION_SEED, NODE_BIN, duBytes, formatBytes, lastJson, median, mutateImage, resetDir, run, sha256File, timed, warmCache
} from './lib.ts'
import type { BenchContext, BenchSection, Row, SectionResult, TimedResult } from './lib.ts'
import { imageCorpus, treeCorpus } from './corpora.ts'
import type { ImageCorpus } from './corpora.ts'
import { formatSummary, summarizeDir } from './profile.ts'
import type { ProfileSummary } from './profile.ts'

const GiB = 2 ** 30
const MiB = 2 ** 20
const FILL = 0.65
const CHANGED_FRACTION = 0.005
const RSS_TARGET = 300e6
const RESTIC_PASSWORD = 'drcore-bench'

interface Sizes {
  corporaDir: string
  treeSource: string
  image: number
  memImage: number
  /** Whether this mode measures peak memory on the large image. */
  memory: boolean
}

function sizes (ctx: BenchContext): Sizes {
  if (ctx.mode === 'quick') {
    return { corporaDir: 'corpora-quick', treeSource: '/usr/share/doc', image: 128 * MiB, memImage: 512 * MiB, memory: true }
  }
  return { corporaDir: 'corpora', treeSource: '/usr/share', image: GiB, memImage: 4 * GiB, memory: ctx.mode === 'full' || MEMORY_IN_DEFAULT }
}

/**
 * The 4 GiB peak-memory measurement is part of the default run (the whole default run, corpora
 * already built, stays within about 15 minutes on a 2-core machine; see docs/benchmarks.md).
 */
const MEMORY_IN_DEFAULT = true

interface Measured {
  wallSeconds: number
  userSeconds: number
  sysSeconds: number
  maxRssBytes: number
  loadBefore: number
  repoBytes: number
  output: unknown
}

function measured (t: TimedResult, repoBytes: number, output: unknown): Measured {
  const { wallSeconds, userSeconds, sysSeconds, maxRssBytes, loadBefore } = t
  return { wallSeconds, userSeconds, sysSeconds, maxRssBytes, loadBefore, repoBytes, output }
}

// ---------------------------------------------------------------------------------------------
// The two tools

interface Volume { name: string, path: string }

interface Tool {
  name: 'drcore' | 'restic'
  init: (repo: string) => Promise<void>
  /** Timed backup of the volumes as machine `machine`. */
  backup: (repo: string, machine: string, volumes: Volume[], label: string) => Promise<Measured>
}

function restic (ctx: BenchContext): Tool {
  const env = { ...process.env, RESTIC_PASSWORD }
  const common = (repo: string): string[] => ['--repo', repo, '--cache-dir', `${repo}.cache`]
  return {
    name: 'restic',
    async init (repo) {
      resetDir(repo)
      resetDir(`${repo}.cache`)
      await run('restic', ['init', ...common(repo), '--repository-version', '2', '-q'], { env })
    },
    async backup (repo, _machine, volumes, label) {
      const paths = volumes.map(v => v.path)
      // Exit 3: some source data could not be read (a snapshot is still made); note it.
      const t = await timed('restic', ['backup', ...common(repo), '--host', 'bench', '--json', '-q', ...paths], { env, okCodes: [3] })
      if (t.code === 3) ctx.log(`  restic ${label}: some files could not be read (exit 3)`)
      const summary = lastJson<Record<string, unknown>>(t.stdout)
      return measured(t, await duBytes(repo), summary)
    }
  }
}

function drcore (ctx: BenchContext, profiles: Map<string, ProfileSummary[]>): Tool {
  const cli = async (args: string[], label: string | null, okCodes: number[] = []): Promise<TimedResult> => {
    const nodeArgs: string[] = []
    let profDir: string | null = null
    if (ctx.profile && label !== null) {
      profDir = path.join(ctx.work, 'profiles', label)
      resetDir(profDir)
      nodeArgs.push('--cpu-prof', '--cpu-prof-dir', profDir)
    }
    const t = await timed(NODE_BIN, [...nodeArgs, DRCORE_JS, ...args], { okCodes })
    if (profDir !== null) profiles.set(label!, await summarizeDir(profDir))
    return t
  }
  return {
    name: 'drcore',
    async init (repo) {
      resetDir(repo)
      await mkdir(path.dirname(repo), { recursive: true })
      await run(NODE_BIN, [DRCORE_JS, 'init', '--repo', repo, '--name', 'bench', '--json'])
    },
    async backup (repo, machine, volumes, label) {
      const specs = volumes.map(v => `${v.name}=${v.path}`)
      // Exit 3: some files were skipped (listed in the output); the point is still made.
      const t = await cli(['backup', machine, ...specs, '--repo', repo, '--json'], label, [3])
      const out = lastJson<Record<string, unknown>>(t.stdout)
      if (t.code === 3) ctx.log(`  drcore ${label}: skipped ${(out.skipped as unknown[] | undefined)?.length ?? '?'} entries (exit 3)`)
      return measured(t, await duBytes(repo), out)
    }
  }
}

// ---------------------------------------------------------------------------------------------

interface Pair { restic: Measured[], drcore: Measured[] }

/**
 * Times `repeat` initial backups of `paths` per tool, each into a fresh repository (the last
 * repository stays for what follows). Tools alternate so drift on a shared machine hits both.
 */
async function initialBackups (ctx: BenchContext, tools: Tool[], repos: Record<string, string>, machine: string,
  volumes: Volume[], warm: string, label: string): Promise<Pair> {
  const out: Pair = { restic: [], drcore: [] }
  for (let i = 0; i < ctx.repeat; i++) {
    for (const tool of tools) {
      await tool.init(repos[tool.name])
      await warmCache(warm)
      const m = await tool.backup(repos[tool.name], machine, volumes, `${label}-${i + 1}`)
      out[tool.name].push(m)
      ctx.log(`  ${tool.name} ${label} #${i + 1}: ${m.wallSeconds.toFixed(2)} s, repo ${formatBytes(m.repoBytes)}, max RSS ${formatBytes(m.maxRssBytes)} (load ${m.loadBefore.toFixed(2)})`)
    }
  }
  return out
}

interface Check { ok: boolean, problems: string[], seconds: number, verify: unknown[] }

/** `drcore verify` on both repositories, and a restore of `machine`'s latest point compared with `image`. */
async function checkDrcore (ctx: BenchContext, treeRepo: string, imageRepo: string, machine: string, image: string, scratch: string): Promise<Check> {
  const t0 = Date.now()
  const problems: string[] = []
  const verify: unknown[] = []
  for (const repo of [treeRepo, imageRepo]) {
    try {
      const res = await run(NODE_BIN, [DRCORE_JS, 'verify', '--repo', repo, '--json'], { okCodes: [1, 2, 3] })
      const out = lastJson<{ ok?: boolean }>(res.stdout)
      verify.push(out)
      if (res.code !== 0 || out.ok !== true) problems.push(`verify ${path.basename(repo)}: exit ${res.code}, ${JSON.stringify(out).slice(0, 300)}`)
    } catch (err) {
      problems.push(`verify ${path.basename(repo)}: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`)
    }
  }
  const dest = path.join(scratch, 'restore')
  resetDir(dest)
  try {
    await run(NODE_BIN, [DRCORE_JS, 'restore', machine, dest, '--point', 'latest', '--repo', imageRepo])
    const [want, got] = await Promise.all([sha256File(image), sha256File(path.join(dest, 'disk'))])
    if (want !== got) problems.push(`restored image differs from the source (sha256 ${got} != ${want})`)
  } catch (err) {
    problems.push(`restore: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`)
  }
  resetDir(dest)
  if (problems.length > 0) ctx.log(`  drcore check FAILED: ${problems.join('; ')}`)
  return { ok: problems.length === 0, problems, seconds: (Date.now() - t0) / 1000, verify }
}

const sizeLabel = (bytes: number): string => bytes >= GiB ? `${bytes / GiB} GiB` : `${bytes / MiB} MiB`
const wall = (ms: Measured[]): number | null => ms.length === 0 ? null : median(ms.map(m => m.wallSeconds))
/** Median CPU seconds (user + system): less sensitive than wall time to a busy machine. */
const cpu = (ms: Measured[]): number | null => ms.length === 0 ? null : median(ms.map(m => m.userSeconds + m.sysSeconds))
const last = (ms: Measured[]): Measured | null => ms.length === 0 ? null : ms[ms.length - 1]

async function run_ (ctx: BenchContext): Promise<SectionResult> {
  const sz = sizes(ctx)
  const corpora = path.join(ctx.work, sz.corporaDir)
  const repos = path.join(ctx.work, 'repos')
  const scratch = path.join(ctx.work, 'scratch')
  const profiles = new Map<string, ProfileSummary[]>()
  const tools: Tool[] = [restic(ctx)]
  if (ctx.drcore.available) tools.push(drcore(ctx, profiles))
  const notes: string[] = []
  const rows: Row[] = []
  const details: Record<string, unknown> = {}
  const repoOf = (name: string): Record<string, string> =>
    ({ restic: path.join(repos, `restic-${name}`), drcore: path.join(repos, `drcore-${name}`) })

  // Corpora (built once, reused).
  const tree = await treeCorpus(corpora, 'tree', sz.treeSource, ctx.log)
  const imgName = `image-${sizeLabel(sz.image).replace(' ', '').replace('iB', '').toLowerCase()}`
  const image = await imageCorpus(corpora, imgName, sz.image, FILL, ['/usr/lib', '/usr/share'], ctx.log)
  let memImage: ImageCorpus | null = null
  if (sz.memory) {
    const memName = `image-${sizeLabel(sz.memImage).replace(' ', '').replace('iB', '').toLowerCase()}`
    memImage = await imageCorpus(corpora, memName, sz.memImage, FILL, ['/usr/lib', '/usr/share'], ctx.log)
  }
  details.corpora = { tree, image, memImage }

  // 1. Tree of small files.
  ctx.log(`tree: ${tree.files} files, ${formatBytes(tree.bytes)}`)
  const treeRuns = await initialBackups(ctx, tools, repoOf('tree'), 'tree', [{ name: 'tree', path: tree.path }], tree.path, 'tree')
  details.tree = treeRuns
  rows.push({
    metric: `initial backup, tree (${Math.round(tree.files / 1000)}k files, ${formatBytes(tree.bytes)})`,
    unit: 'seconds',
    drcore: wall(treeRuns.drcore),
    anchor: { name: 'restic', value: wall(treeRuns.restic)! },
    target: { kind: 'ratio-max', value: 1 }
  })
  rows.push({
    metric: 'same: CPU time (user + system)',
    unit: 'seconds',
    drcore: cpu(treeRuns.drcore),
    anchor: { name: 'restic', value: cpu(treeRuns.restic)! }
  })

  // 2. Volume image, then 3. the incremental after rewriting 0.5% of its blocks. The pristine
  // image stays as built; the runs use a copy at a fixed path (restic finds its parent by path).
  await mkdir(scratch, { recursive: true })
  const disk = path.join(scratch, 'disk.img')
  resetDir(disk)
  await run('cp', ['--sparse=always', image.path, disk])
  const imgLabel = `${sizeLabel(image.sizeBytes)} ext4 image, ${(image.fill * 100).toFixed(0)}% full`
  ctx.log(`image: ${imgLabel}`)
  const imgRepos = repoOf('image')
  const imgRuns = await initialBackups(ctx, tools, imgRepos, 'img', [{ name: 'disk', path: disk }], disk, 'image')
  rows.push({
    metric: `initial backup, ${imgLabel}`,
    unit: 'seconds',
    drcore: wall(imgRuns.drcore),
    anchor: { name: 'restic', value: wall(imgRuns.restic)! },
    target: { kind: 'ratio-max', value: 1 }
  })
  rows.push({
    metric: 'same: CPU time (user + system)',
    unit: 'seconds',
    drcore: cpu(imgRuns.drcore),
    anchor: { name: 'restic', value: cpu(imgRuns.restic)! }
  })
  rows.push({
    metric: 'repository size after initial image backup',
    unit: 'bytes',
    drcore: last(imgRuns.drcore)?.repoBytes ?? null,
    anchor: { name: 'restic', value: last(imgRuns.restic)!.repoBytes }
  })

  const mutation = await mutateImage(disk, image.sizeBytes, CHANGED_FRACTION)
  ctx.log(`image: rewrote ${mutation.blocks} random 4 KiB blocks (${formatBytes(mutation.bytes)})`)
  const incr: Record<string, Measured & { repoGrowth: number }> = {}
  for (const tool of tools) {
    await warmCache(disk)
    const before = await duBytes(imgRepos[tool.name])
    const m = await tool.backup(imgRepos[tool.name], 'img', [{ name: 'disk', path: disk }], 'image-incremental')
    incr[tool.name] = { ...m, repoGrowth: m.repoBytes - before }
    ctx.log(`  ${tool.name} incremental: ${m.wallSeconds.toFixed(2)} s, repo +${formatBytes(m.repoBytes - before)}`)
  }
  const dIncr = incr.drcore as (Measured & { repoGrowth: number, output: Record<string, unknown> }) | undefined
  if (dIncr !== undefined && dIncr.output.kind !== 'incremental') notes.push(`drcore's second image backup reported kind "${String(dIncr.output.kind)}", not "incremental"`)
  details.image = { initial: imgRuns, mutation: { ...mutation, fraction: CHANGED_FRACTION, seed: IMAGE_MUTATION_SEED }, incremental: incr }
  rows.push({
    metric: `incremental after rewriting 0.5% of 4 KiB blocks (${formatBytes(mutation.bytes)}): stored bytes`,
    unit: 'bytes',
    drcore: dIncr === undefined ? null : Number(dIncr.output.storedBytes),
    anchor: { name: 'restic repo growth', value: incr.restic.repoGrowth },
    target: { kind: 'ratio-max', value: 0.5 },
    note: 'drcore: storedBytes of the incremental; restic: du -sb growth of its repository'
  })
  rows.push({
    metric: 'same incremental: repository growth (du -sb)',
    unit: 'bytes',
    drcore: dIncr?.repoGrowth ?? null,
    anchor: { name: 'restic', value: incr.restic.repoGrowth }
  })
  rows.push({
    metric: 'same incremental: wall time',
    unit: 'seconds',
    drcore: dIncr?.wallSeconds ?? null,
    anchor: { name: 'restic', value: incr.restic.wallSeconds }
  })
  if (ctx.drcore.available) {
    // Figures of a wrong backup mean nothing: verify drcore's repositories and restore the
    // incremental, which must be the mutated image byte for byte (untimed).
    const check = await checkDrcore(ctx, repoOf('tree').drcore, imgRepos.drcore, 'img', disk, scratch)
    details.drcoreCheck = check
    if (!check.ok) notes.push(`drcore CHECK FAILED, its figures are suspect: ${check.problems.join('; ')}`)
    else ctx.log(`  drcore check: both repositories verify, the restored image matches (${check.seconds.toFixed(1)} s)`)
  }
  resetDir(disk)

  // 4. Peak memory on the large image.
  if (memImage !== null) {
    const memLabel = `${sizeLabel(memImage.sizeBytes)} image`
    ctx.log(`memory: ${memLabel}, ${(memImage.fill * 100).toFixed(0)}% full`)
    const memRuns: Pair = { restic: [], drcore: [] }
    const memRepos = repoOf('mem')
    for (const tool of tools) {
      await tool.init(memRepos[tool.name])
      await warmCache(memImage.path)
      const m = await tool.backup(memRepos[tool.name], 'big', [{ name: 'disk', path: memImage.path }], 'memory')
      memRuns[tool.name].push(m)
      ctx.log(`  ${tool.name} ${memLabel}: ${m.wallSeconds.toFixed(2)} s, max RSS ${formatBytes(m.maxRssBytes)}`)
      resetDir(memRepos[tool.name])
      resetDir(`${memRepos[tool.name]}.cache`)
    }
    details.memory = memRuns
    rows.push({
      metric: `peak RSS, backup of ${memLabel}`,
      unit: 'bytes',
      drcore: last(memRuns.drcore)?.maxRssBytes ?? null,
      anchor: { name: 'restic', value: last(memRuns.restic)!.maxRssBytes },
      target: { kind: 'abs-max', value: RSS_TARGET }
    })
    rows.push({
      metric: `initial backup, ${memLabel}`,
      unit: 'seconds',
      drcore: last(memRuns.drcore)?.wallSeconds ?? null,
      anchor: { name: 'restic', value: last(memRuns.restic)!.wallSeconds }
    })
  } else {
    notes.push('peak memory on the 4 GiB image was not measured: run with --full')
  }

  // The tree and image repositories stay until the next run, for inspection.
  if (ctx.profile) {
    const all: Record<string, ProfileSummary[]> = {}
    for (const [label, sums] of profiles) {
      all[label] = sums
      for (const s of sums) notes.push(`[${label}] ${formatSummary(s)}`)
    }
    details.profiles = all
    notes.push('drcore ran under --cpu-prof: its timings in this run include profiling overhead')
  }
  return { rows, details, notes }
}

export const section: BenchSection = {
  name: 'backup',
  title: 'Backup: drcore vs restic (initial backups, incremental size, peak memory)',
  tools: [
    { bin: 'restic', pkg: 'restic' },
    { bin: 'mke2fs', pkg: 'e2fsprogs' },
    { bin: 'dumpe2fs', pkg: 'e2fsprogs' },
    { bin: '/usr/bin/time', pkg: 'time' }
  ],
  run: run_
}
