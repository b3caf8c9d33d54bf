/**
 * Section `seed`: a seed drive (`drcore seed create` on the source, `drcore seed consume` on the
 * target) against `restic copy` between two local repositories, for the tree corpus and the
 * 1 GiB ext4 image, in the same run.
 *
 * Each tool first backs the corpus up into a fresh source repository (untimed); then drcore's
 * time is create + consume into a fresh target repository that allowed the source, and restic's
 * is `restic -r DST copy --from-repo SRC` into a fresh repository. Both read a warm page cache
 * (the source repository is read once right before), and `sync` runs before each timed command
 * so writeback of earlier steps does not land in it. Both use the same disk for source and
 * target, as a drive plugged into either machine would be read at its own speed.
 */
import { mkdir, rm } from 'node:fs/promises'
import path from 'node:path'
import { DRCORE_JS, NODE_BIN, duBytes, formatBytes, lastJson, resetDir, run, timed, warmCache } from './lib.ts'
import type { BenchContext, BenchSection, Row, SectionResult, TimedResult } from './lib.ts'
import { imageCorpus, treeCorpus } from './corpora.ts'

const GiB = 2 ** 30
const MiB = 2 ** 20
const FILL = 0.65
const SOURCES = ['/usr/lib', '/usr/share']
const RESTIC_PASSWORD = 'drcore-bench'

function plan (ctx: BenchContext): { corporaDir: string, treeSource: string, image: number } {
  if (ctx.mode === 'quick') return { corporaDir: 'corpora-quick', treeSource: '/usr/share/doc', image: 128 * MiB }
  return { corporaDir: 'corpora', treeSource: '/usr/share', image: GiB }
}

const sizeLabel = (bytes: number): string => bytes >= GiB ? `${bytes / GiB} GiB` : `${bytes / MiB} MiB`

interface Step { wallSeconds: number, userSeconds: number, sysSeconds: number, maxRssBytes: number, loadBefore: number, output: unknown }

function step (t: TimedResult, output: unknown): Step {
  const { wallSeconds, userSeconds, sysSeconds, maxRssBytes, loadBefore } = t
  return { wallSeconds, userSeconds, sysSeconds, maxRssBytes, loadBefore, output }
}

async function run_ (ctx: BenchContext): Promise<SectionResult> {
  const p = plan(ctx)
  const corpora = path.join(ctx.work, p.corporaDir)
  const base = path.join(ctx.work, 'seed')
  const rows: Row[] = []
  const notes: string[] = []
  const details: Record<string, unknown> = {}
  const tree = await treeCorpus(corpora, 'tree', p.treeSource, ctx.log)
  const imgName = `image-${sizeLabel(p.image).replace(' ', '').replace('iB', '').toLowerCase()}`
  const image = await imageCorpus(corpora, imgName, p.image, FILL, SOURCES, ctx.log)
  details.corpora = { tree, image }
  resetDir(base)
  await mkdir(base, { recursive: true })
  const resticCache = path.join(base, 'restic-cache')
  const resticEnv = { ...process.env, RESTIC_PASSWORD, RESTIC_FROM_PASSWORD: RESTIC_PASSWORD }
  const drcore = async (args: string[], okCodes: number[] = []): Promise<string> =>
    (await run(NODE_BIN, [DRCORE_JS, ...args], { okCodes })).stdout

  const sets = [
    { name: 'tree', machine: 'tree', volume: `tree=${tree.path}`, path: tree.path, bytes: tree.bytes, label: `tree (${Math.round(tree.files / 1000)}k files, ${formatBytes(tree.bytes)})` },
    { name: 'image', machine: 'img', volume: `disk=${image.path}`, path: image.path, bytes: image.sizeBytes, label: `${sizeLabel(image.sizeBytes)} ext4 image, ${(image.fill * 100).toFixed(0)}% full` }
  ]
  for (const set of sets) {
    ctx.log(`seed: ${set.label}`)
    const out: Record<string, unknown> = {}

    // restic: backup (untimed), then copy into a fresh repository
    const rSrc = path.join(base, `restic-src-${set.name}`)
    const rDst = path.join(base, `restic-dst-${set.name}`)
    await run('restic', ['init', '--repo', rSrc, '--cache-dir', resticCache, '--repository-version', '2', '-q'], { env: resticEnv })
    await run('restic', ['backup', '--repo', rSrc, '--cache-dir', resticCache, '--host', 'bench', '-q', set.path], { env: resticEnv, okCodes: [3] })
    await run('restic', ['init', '--repo', rDst, '--cache-dir', resticCache, '--repository-version', '2', '-q'], { env: resticEnv })
    await warmCache(rSrc)
    await run('sync', [])
    const copy = await timed('restic', ['--repo', rDst, '--cache-dir', resticCache, 'copy', '--from-repo', rSrc, '-q'], { env: resticEnv })
    const resticSrcBytes = await duBytes(rSrc)
    const resticDstBytes = await duBytes(rDst)
    const snaps = lastJson<unknown[]>((await run('restic', ['snapshots', '--repo', rDst, '--cache-dir', resticCache, '--json'], { env: resticEnv })).stdout)
    if (snaps.length !== 1) notes.push(`restic copy of ${set.name}: the target holds ${snaps.length} snapshots, not 1`)
    out.restic = { copy: step(copy, null), srcRepoBytes: resticSrcBytes, dstRepoBytes: resticDstBytes }
    ctx.log(`  restic copy: ${copy.wallSeconds.toFixed(2)} s (${formatBytes(set.bytes / copy.wallSeconds)}/s of data, source repository ${formatBytes(resticSrcBytes)})`)

    // drcore: backup (untimed), then seed create + seed consume into a fresh repository
    let drTotal: number | null = null
    let seedBytes: number | null = null
    let partBytes: number | null = null
    let carriedStored = 0
    if (ctx.drcore.available) {
      const dSrc = path.join(base, `drcore-src-${set.name}`)
      const dDst = path.join(base, `drcore-dst-${set.name}`)
      const drive = path.join(base, `drive-${set.name}`)
      const srcId = lastJson<{ peerId: string }>(await drcore(['init', '--repo', dSrc, '--name', 'src', '--api-port', '0', '--json'])).peerId
      await drcore(['init', '--repo', dDst, '--name', 'dst', '--api-port', '0', '--json'])
      await drcore(['peer', 'allow', srcId, '--name', 'src', '--repo', dDst, '--json'])
      const b = lastJson<Record<string, unknown>>(await drcore(['backup', set.machine, set.volume, '--repo', dSrc, '--json'], [3]))
      await warmCache(dSrc)
      await run('sync', [])
      const create = await timed(NODE_BIN, [DRCORE_JS, 'seed', 'create', '--out', drive, '--machines', set.machine, '--repo', dSrc, '--json'])
      const created = lastJson<{ bytes: number, blocks: number, parts: Array<{ size: number }> }>(create.stdout)
      // the source holds this one machine: its stored bytes are those of the blocks the seed carries
      const storedBytes = lastJson<{ repository: { storedBytes: number } }>(await drcore(['status', '--repo', dSrc, '--json'])).repository.storedBytes
      partBytes = created.parts.reduce((sum, part) => sum + part.size, 0)
      carriedStored = storedBytes
      await run('sync', [])
      const consume = await timed(NODE_BIN, [DRCORE_JS, 'seed', 'consume', drive, '--repo', dDst, '--json'], { okCodes: [1] })
      const consumed = lastJson<{ complete?: boolean, pointsCompleted?: string[] }>(consume.stdout)
      if (consume.code !== 0 || consumed.complete !== true || consumed.pointsCompleted?.length !== 1) {
        notes.push(`CHECK FAILED: seed consume of ${set.name} exited ${consume.code}: ${JSON.stringify(consumed).slice(0, 300)} ${consume.stderr.trim().slice(0, 300)}`)
      }
      const points = lastJson<Array<{ complete: boolean }>>(await drcore(['points', set.machine, '--repo', dDst, '--json']))
      if (points.length !== 1 || !points[0].complete) notes.push(`CHECK FAILED: after the seed the target holds ${JSON.stringify(points).slice(0, 200)}`)
      drTotal = create.wallSeconds + consume.wallSeconds
      seedBytes = created.bytes
      out.drcore = {
        backup: b,
        create: step(create, created),
        consume: step(consume, consumed),
        driveBytes: await duBytes(drive),
        srcRepoBytes: await duBytes(dSrc),
        dstRepoBytes: await duBytes(dDst)
      }
      ctx.log(`  drcore seed: create ${create.wallSeconds.toFixed(2)} s + consume ${consume.wallSeconds.toFixed(2)} s = ${drTotal.toFixed(2)} s (${formatBytes(set.bytes / drTotal)}/s of data; ${formatBytes(created.bytes)} of blocks in ${created.parts.length} part(s) of ${formatBytes(partBytes)}, ${formatBytes(carriedStored)} stored)`)
      await rm(drive, { recursive: true, force: true })
    }
    details[set.name] = out
    rows.push({
      metric: `${set.label}: seed create + consume vs restic copy, wall time`,
      unit: 'seconds',
      drcore: drTotal,
      anchor: { name: 'restic copy', value: copy.wallSeconds },
      target: { kind: 'ratio-max', value: 0.5 }
    })
    rows.push({
      metric: 'same: throughput (data bytes / time)',
      unit: 'bytes/s',
      drcore: drTotal === null ? null : set.bytes / drTotal,
      anchor: { name: 'restic copy', value: set.bytes / copy.wallSeconds }
    })
    rows.push({
      metric: 'same: bytes carried (seed parts; restic source repository)',
      unit: 'bytes',
      drcore: partBytes ?? seedBytes,
      anchor: { name: 'restic repo', value: resticSrcBytes }
    })
    rows.push({
      metric: 'same: seed parts vs the stored bytes of the blocks they carry',
      unit: 'bytes',
      drcore: partBytes,
      anchor: { name: 'stored bytes carried', value: carriedStored },
      target: { kind: 'ratio-max', value: 1.1 }
    })
  }
  notes.push('drcore: one point per corpus, `seed create --machines M` then `seed consume` into a fresh repository that allowed the source (no daemons); restic: one snapshot, `restic copy --from-repo` into a fresh repository (format 2); the backups before are untimed')
  return { rows, details, notes }
}

export const section: BenchSection = {
  name: 'seed',
  title: 'Seed drives: drcore seed create + consume vs restic copy',
  tools: [
    { bin: 'restic', pkg: 'restic' },
    { bin: 'mke2fs', pkg: 'e2fsprogs' },
    { bin: 'dumpe2fs', pkg: 'e2fsprogs' },
    { bin: 'sync', pkg: 'coreutils' },
    { bin: '/usr/bin/time', pkg: 'time' }
  ],
  run: run_
}
