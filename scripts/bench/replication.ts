/**
 * Section `replication`: drcore Core to Core against rsync (a daemon, `rsync -a` to
 * `rsync://...`) on the same data, in the same run.
 *
 * 1. initial replication of a point of the tree corpus and of the 1 GiB ext4 image: wall time of
 *    `drcore replication now` (it returns when the target acknowledged the point complete)
 *    against `rsync -a` of the same files into an empty module;
 *    The tree's point is then replicated once more, to a fresh target, by a rule with
 *    `--streams 4`: its wall time against the one-stream job's (parallel streams per job);
 * 2. incremental after a day's change (2% of the tree's files edited, 0.5% of the image's 4 KiB
 *    blocks rewritten): bytes on the wire, both directions, from the byte counters of a veth
 *    interface (outside both processes);
 * 3. an emulated WAN link (`tc tbf rate 24mbit` on the sending end of that veth): the link's
 *    use while a large point of incompressible data replicates, and the delivered rate (logical
 *    bytes / time) of a point of real files (a smaller ext4 image of the same recipe);
 * 4. on 127.0.0.1, five Cores: a point's time to reach every Core of a 4-target fan-out
 *    (A -> B, C, D, E) and of a 4-hop chain (A -> B -> C -> D -> E), with rsync doing the same.
 *
 * Parts 1 to 3 run in two network namespaces made for the run (source and target), joined by a
 * veth pair: nothing else talks on it, so its counters are exactly the traffic between the two.
 * Without shaping the veth is as fast as loopback here. The namespaces are deleted at the end,
 * also on failure.
 */
import { mkdir, open } from 'node:fs/promises'
import { loadavg } from 'node:os'
import path from 'node:path'
import { IMAGE_MUTATION_SEED, formatBytes, mutateImage, randomStream, resetDir, run, sha256File, warmCache } from './lib.ts'
import type { BenchContext, BenchSection, Row, RunResult, SectionResult } from './lib.ts'
import { imageCorpus, treeCorpus } from './corpora.ts'
import { EDIT_BYTES, editTree } from './churn.ts'
import type { DaemonCore } from '../../test/support/daemon.ts'
import { freePort, sleep } from '../../test/support/wait.ts'
import { Cleanup, NetPair, RsyncDaemon, Sampler, benchCore, bulk, cli, startBenchCore } from './cores.ts'
import type { Counters } from './cores.ts'

const GiB = 2 ** 30
const MiB = 2 ** 20
const FILL = 0.65
const SOURCES = ['/usr/lib', '/usr/share']
const IMAGE_CHANGED_FRACTION = 0.005
const TREE_EDITED_FRACTION = 0.02
/** The same seed as the backup section: the same blocks are rewritten. */
const TREE_EDIT_SEED = 'drcore-bench-tree-edit-v1'
/** The WAN link: `tc qdisc add dev IF root tbf rate 24mbit burst 32kbit latency 400ms`. */
const LINK = { rate: '24mbit', burst: '32kbit', latency: '400ms', bytesPerSecond: 24e6 / 8 }
const LINK_USE_TARGET = 0.95
/** Rules of parts 1 to 3 run only when asked (`replication now`): a cron time that never comes by. */
const ONLY_BY_HAND = '0 3 1 1 *'
const RSYNC_PORT = 8730
const DRCORE_PORT = 4710
/** Target Cores in the target namespace, and which machines each receives. */
const DST_CORES = ['dst-tree', 'dst-img', 'dst-wan', 'dst-streams']
/** `--streams` of the rule that sends the tree a second time, to dst-streams */
const PARALLEL_STREAMS = 4
const TARGET_OF: Record<string, string> = { tree: 'dst-tree', img: 'dst-img', wanrand: 'dst-wan', wanimg: 'dst-wan' }

interface Plan {
  corporaDir: string
  treeSource: string
  image: number
  wanRandom: number
  wanImage: number
  fanout: number
}

function plan (ctx: BenchContext): Plan {
  if (ctx.mode === 'quick') {
    return { corporaDir: 'corpora-quick', treeSource: '/usr/share/doc', image: 128 * MiB, wanRandom: 16 * MiB, wanImage: 64 * MiB, fanout: 16 * MiB }
  }
  // WAN sizes: 256 MiB at 24 Mbit/s is about 90 s per tool; the 128 MiB image about 30 s.
  return { corporaDir: 'corpora', treeSource: '/usr/share', image: GiB, wanRandom: 256 * MiB, wanImage: 128 * MiB, fanout: 64 * MiB }
}

const sizeLabel = (bytes: number): string => bytes >= GiB ? `${bytes / GiB} GiB` : `${bytes / MiB} MiB`
const imageName = (bytes: number): string => `image-${sizeLabel(bytes).replace(' ', '').replace('iB', '').toLowerCase()}`

// ---------------------------------------------------------------------------------------------
// Data

/** A file of `bytes` incompressible bytes (deterministic). */
async function randomFile (file: string, bytes: number, seed: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true })
  const random = randomStream(seed)
  const fh = await open(file, 'w')
  try {
    for (let done = 0; done < bytes; done += 4 * MiB) await fh.write(random(Math.min(4 * MiB, bytes - done)))
  } finally {
    await fh.close()
  }
}

// ---------------------------------------------------------------------------------------------
// Measuring

interface Transfer {
  /** wall time of the command, measured around the process */
  wallSeconds: number
  /** bytes through the veth in both directions (rx + tx of the source end) */
  wireBytes: number
  /** source -> target, and back */
  txBytes: number
  rxBytes: number
  /** 1-minute load average just before: a noise indicator on a shared machine */
  loadBefore: number
  output: unknown
}

/** Runs `fn` between two readings of the veth counters; `sync` first so writeback of earlier runs does not land in it. */
async function transfer (net: NetPair, fn: () => Promise<RunResult>, parse: (r: RunResult) => unknown = r => r.stdout.trim().slice(-2000)): Promise<Transfer> {
  await run('sync', [])
  const loadBefore = loadavg()[0]
  const c0 = net.counters()
  const t0 = performance.now()
  const res = await fn()
  const wallSeconds = (performance.now() - t0) / 1000
  const c1 = net.counters()
  return { wallSeconds, wireBytes: c1.rx - c0.rx + c1.tx - c0.tx, txBytes: c1.tx - c0.tx, rxBytes: c1.rx - c0.rx, loadBefore, output: parse(res) }
}

interface WanTransfer extends Transfer {
  /** tx bytes and seconds of the bulk part (see `bulk` in cores.ts) */
  bulkBytes: number
  bulkSeconds: number
  /** bulk tx bytes per second on the shaped interface */
  linkRate: number
  samples: number
}

async function wanTransfer (net: NetPair, fn: () => Promise<RunResult>, parse?: (r: RunResult) => unknown): Promise<WanTransfer> {
  let sampler: Sampler | undefined
  const t = await transfer(net, async () => {
    sampler = new Sampler(net, 100)
    return await fn()
  }, parse)
  const samples: Counters[] = sampler!.stop(net)
  const b = bulk(samples)
  return { ...t, bulkBytes: b.bytes, bulkSeconds: b.seconds, linkRate: b.bytes / b.seconds, samples: samples.length }
}

interface JobJson { sent: string[], bytesSent: number, blocksSent: number, seconds: number, pointsBehind: number }

const jobOf = (r: RunResult): JobJson => {
  const text = r.stdout.trim()
  return JSON.parse(text.slice(text.indexOf('{'))) as JobJson
}

/** Replication jobs that failed on these Cores during the run (a retry comes 30 s later: timings suffer). */
async function failedJobs (cores: DaemonCore[]): Promise<string[]> {
  const out: string[] = []
  for (const c of cores) {
    const events = await c.json<Array<{ type: string, at: string, message: string }>>(['events', '--limit', '10000']).catch(() => [])
    for (const e of events) if (e.type === 'replication.failed') out.push(`drcore ${c.name}: ${e.at} ${e.message}`)
  }
  return out
}

// ---------------------------------------------------------------------------------------------

async function run_ (ctx: BenchContext): Promise<SectionResult> {
  const p = plan(ctx)
  const withDrcore = ctx.drcore.available
  const corpora = path.join(ctx.work, p.corporaDir)
  const base = path.join(ctx.work, 'replication')
  const rows: Row[] = []
  const notes: string[] = []
  const details: Record<string, unknown> = { plan: p, link: LINK }

  const tree = await treeCorpus(corpora, 'tree', p.treeSource, ctx.log)
  const image = await imageCorpus(corpora, imageName(p.image), p.image, FILL, SOURCES, ctx.log)
  const wanImage = await imageCorpus(corpora, imageName(p.wanImage), p.wanImage, FILL, SOURCES, ctx.log)
  details.corpora = { tree, image, wanImage }

  resetDir(base)
  const data = path.join(base, 'data')
  await mkdir(data, { recursive: true })
  // the day's change edits copies; the corpora stay as built
  const treeCopy = path.join(data, 'tree')
  const disk = path.join(data, 'disk.img')
  ctx.log('copying the tree and the image to the work area')
  await run('cp', ['-a', tree.path, treeCopy])
  await run('cp', ['--sparse=always', image.path, disk])

  const cleanup = new Cleanup()
  const cores: DaemonCore[] = []
  const rsyncds: RsyncDaemon[] = []
  const net = new NetPair(cleanup, String(process.pid))
  try {
    // -------------------------------------------------------------------------------------------
    // Two namespaces, a Core and an rsync daemon on each side
    await net.create()
    ctx.log(`namespaces ${net.src} (${net.ipSrc}) and ${net.dst} (${net.ipDst}), veth ${net.ifSrc}/${net.ifDst}`)
    const rsyncd = await RsyncDaemon.start(cleanup, path.join(base, 'rsyncd'), path.join(base, 'rsync-dst'), net.dst, net.ipDst, RSYNC_PORT)
    rsyncds.push(rsyncd)
    const rsync = async (args: string[]): Promise<RunResult> => await rsyncd.rsync(args, net.src)

    // One target Core per data set, so that a point never finds blocks of another corpus on its
    // target (the tree and the images hold some of the same files): each transfer starts from an
    // empty target, as rsync's does.
    let src: DaemonCore | undefined
    const dsts: Record<string, DaemonCore> = {}
    if (withDrcore) {
      src = await benchCore(cleanup, path.join(base, 'cores'), 'src', net.src, net.ipSrc, DRCORE_PORT)
      cores.push(src)
      for (const [i, name] of DST_CORES.entries()) {
        dsts[name] = await benchCore(cleanup, path.join(base, 'cores'), name, net.dst, net.ipDst, DRCORE_PORT + i)
        cores.push(dsts[name])
      }
      await Promise.all(cores.map(async c => { await startBenchCore(c) }))
      for (const name of DST_CORES) await src.pairWith(dsts[name], { timeoutMs: 120_000 })
      ctx.log(`src paired with ${DST_CORES.join(', ')}`)
      const idle0 = net.counters()
      await sleep(5000)
      const idle1 = net.counters()
      details.idleBytesPerSecond = (idle1.rx - idle0.rx + idle1.tx - idle0.tx) / ((idle1.t - idle0.t) / 1000)
      ctx.log(`  idle traffic between the Cores: ${(details.idleBytesPerSecond as number).toFixed(0)} bytes/s`)
    }
    const backup = async (machine: string, volume: string): Promise<Record<string, unknown>> => {
      const out = await src!.json<Record<string, unknown>>(['backup', machine, volume], [0, 3])
      ctx.log(`  drcore backup ${machine}: ${String(out.kind)}, ${formatBytes(Number(out.bytes))}, new ${formatBytes(Number(out.newBytes))} (${Number(out.seconds).toFixed(1)} s)`)
      return out
    }
    /** stored bytes of the target's blocks: their growth is the stored bytes of the blocks a job sent (stored as they came) */
    const storedOn = async (machine: string): Promise<number> => {
      const overview = await dsts[TARGET_OF[machine]].json<{ repository: { storedBytes: number } }>(['status'])
      return overview.repository.storedBytes
    }
    const replicate = async (machine: string): Promise<Transfer & { storedBytes: number }> => {
      await warmCache(src!.repo)
      const before = await storedOn(machine)
      const t = await transfer(net, async () => await cli(src!, ['replication', 'now', machine, '--to', TARGET_OF[machine], '--json']), jobOf)
      return { ...t, storedBytes: await storedOn(machine) - before }
    }
    /** The row that holds the wire to what it carries: bytes through the veth against the stored bytes of the blocks sent. */
    const wireRow = (d: (Transfer & { storedBytes: number }) | undefined): Row => ({
      metric: 'same: bytes on the wire vs the stored bytes of the blocks sent (the target\'s growth)',
      unit: 'bytes',
      drcore: d?.wireBytes ?? null,
      anchor: { name: 'stored bytes sent', value: d?.storedBytes ?? 0 },
      target: { kind: 'ratio-max', value: 1.05 }
    })
    const completeOnDst = async (machine: string): Promise<boolean> => {
      const pts = await dsts[TARGET_OF[machine]].points(machine)
      return pts.length > 0 && pts.every(x => x.complete)
    }

    // -------------------------------------------------------------------------------------------
    // 1. Initial replication
    const corpusRuns = [
      { machine: 'tree', volume: `tree=${treeCopy}`, rsyncSrc: `${treeCopy}/`, warm: treeCopy, label: `tree (${Math.round(tree.files / 1000)}k files, ${formatBytes(tree.bytes)})` },
      { machine: 'img', volume: `disk=${disk}`, rsyncSrc: disk, warm: disk, label: `${sizeLabel(image.sizeBytes)} ext4 image, ${(image.fill * 100).toFixed(0)}% full` }
    ]
    const initial: Record<string, { backup?: unknown, drcore?: Transfer, rsync: Transfer }> = {}
    for (const c of corpusRuns) {
      ctx.log(`initial replication: ${c.label}`)
      let d: (Transfer & { storedBytes: number }) | undefined
      let b: unknown
      if (withDrcore) {
        b = await backup(c.machine, c.volume)
        await cli(src!, ['replicate', c.machine, '--to', TARGET_OF[c.machine], '--schedule', ONLY_BY_HAND])
        d = await replicate(c.machine)
        ctx.log(`  drcore: ${d.wallSeconds.toFixed(2)} s, wire ${formatBytes(d.wireBytes)} for ${formatBytes(d.storedBytes)} stored, job ${JSON.stringify(d.output).slice(0, 160)}`)
        if (!await completeOnDst(c.machine)) notes.push(`CHECK FAILED: ${c.machine} is not complete on the target after the initial replication`)
      }
      await warmCache(c.warm)
      const r = await transfer(net, async () => await rsync(['-a', c.rsyncSrc, `${rsyncd.url}/${c.machine}/`]))
      ctx.log(`  rsync:  ${r.wallSeconds.toFixed(2)} s, wire ${formatBytes(r.wireBytes)}`)
      initial[c.machine] = { backup: b, drcore: d, rsync: r }
      rows.push({
        metric: `initial replication, ${c.label}: wall time`,
        unit: 'seconds',
        drcore: d?.wallSeconds ?? null,
        anchor: { name: 'rsync', value: r.wallSeconds },
        target: { kind: 'ratio-max', value: 1 }
      })
      rows.push({
        metric: 'same: bytes on the wire',
        unit: 'bytes',
        drcore: d?.wireBytes ?? null,
        anchor: { name: 'rsync', value: r.wireBytes }
      })
      if (d !== undefined) rows.push(wireRow(d))
    }
    details.initial = initial

    // the same point of the tree to an empty target on several streams, against one stream
    if (withDrcore && initial.tree?.drcore !== undefined) {
      ctx.log(`initial replication of the tree on ${PARALLEL_STREAMS} streams`)
      await cli(src!, ['replicate', 'tree', '--to', 'dst-streams', '--schedule', ONLY_BY_HAND, '--streams', String(PARALLEL_STREAMS)])
      await warmCache(src!.repo)
      const d = await transfer(net, async () => await cli(src!, ['replication', 'now', 'tree', '--to', 'dst-streams', '--json']), jobOf)
      const job = d.output as JobJson & { streams?: number }
      ctx.log(`  drcore --streams ${PARALLEL_STREAMS}: ${d.wallSeconds.toFixed(2)} s (${job.streams ?? '?'} streams opened), wire ${formatBytes(d.wireBytes)}`)
      const points = await dsts['dst-streams'].points('tree')
      if (points.length === 0 || !points.every(x => x.complete)) notes.push('CHECK FAILED: tree is not complete on dst-streams after the replication on several streams')
      details.parallelStreams = { streams: PARALLEL_STREAMS, opened: job.streams ?? null, transfer: d }
      rows.push({
        metric: `same tree, --streams ${PARALLEL_STREAMS}: wall time against one stream`,
        unit: 'seconds',
        drcore: d.wallSeconds,
        anchor: { name: 'drcore, 1 stream', value: initial.tree.drcore.wallSeconds }
      })
    }

    // -------------------------------------------------------------------------------------------
    // 2. Incremental after a day's change
    const edits = await editTree(treeCopy, TREE_EDITED_FRACTION, TREE_EDIT_SEED)
    const mutation = await mutateImage(disk, image.sizeBytes, IMAGE_CHANGED_FRACTION)
    ctx.log(`day's change: edited ${edits.edited} of ${edits.files} files (${EDIT_BYTES} bytes each); rewrote ${mutation.blocks} 4 KiB blocks of the image`)
    details.change = { tree: { ...edits, fraction: TREE_EDITED_FRACTION, seed: TREE_EDIT_SEED }, image: { ...mutation, fraction: IMAGE_CHANGED_FRACTION, seed: IMAGE_MUTATION_SEED } }
    const incremental: Record<string, { backup?: unknown, drcore?: Transfer, rsync: Transfer }> = {}
    const changeLabel: Record<string, string> = {
      tree: `tree, ${edits.edited} files edited (2%)`,
      img: `image, ${mutation.blocks} 4 KiB blocks rewritten (0.5%, ${formatBytes(mutation.bytes)})`
    }
    for (const c of corpusRuns) {
      ctx.log(`incremental: ${changeLabel[c.machine]}`)
      let d: (Transfer & { storedBytes: number }) | undefined
      let b: Record<string, unknown> | undefined
      if (withDrcore) {
        b = await backup(c.machine, c.volume)
        if (b.kind !== 'incremental') notes.push(`drcore's second backup of ${c.machine} reported kind "${String(b.kind)}", not "incremental"`)
        d = await replicate(c.machine)
        ctx.log(`  drcore: wire ${formatBytes(d.wireBytes)} for ${formatBytes(d.storedBytes)} stored (${d.wallSeconds.toFixed(2)} s), job ${JSON.stringify(d.output).slice(0, 160)}`)
        if (!await completeOnDst(c.machine)) notes.push(`CHECK FAILED: ${c.machine} is not complete on the target after the incremental replication`)
      }
      await warmCache(c.warm)
      const r = await transfer(net, async () => await rsync(['-a', c.rsyncSrc, `${rsyncd.url}/${c.machine}/`]))
      ctx.log(`  rsync:  wire ${formatBytes(r.wireBytes)} (${r.wallSeconds.toFixed(2)} s)`)
      incremental[c.machine] = { backup: b, drcore: d, rsync: r }
      rows.push({
        metric: `incremental, ${changeLabel[c.machine]}: bytes on the wire`,
        unit: 'bytes',
        drcore: d?.wireBytes ?? null,
        anchor: { name: 'rsync', value: r.wireBytes },
        target: { kind: 'ratio-max', value: 1 }
      })
      rows.push({
        metric: 'same: wall time',
        unit: 'seconds',
        drcore: d?.wallSeconds ?? null,
        anchor: { name: 'rsync', value: r.wallSeconds }
      })
      if (d !== undefined) rows.push(wireRow(d))
    }
    details.incremental = incremental
    if (withDrcore) {
      // the target's copy must be the mutated image, byte for byte (untimed)
      const dest = path.join(base, 'restore-img')
      resetDir(dest)
      try {
        await cli(dsts[TARGET_OF.img], ['restore', 'img', dest, '--point', 'latest'])
        const [want, got] = await Promise.all([sha256File(disk), sha256File(path.join(dest, 'disk'))])
        details.restoreCheck = { ok: want === got, want, got }
        if (want !== got) notes.push(`CHECK FAILED: the image restored on the target differs from the source (sha256 ${got} != ${want})`)
        else ctx.log('  check: the image restored on the target matches the source')
      } catch (err) {
        notes.push(`CHECK FAILED: restore on the target: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`)
      }
      resetDir(dest)
    }

    // -------------------------------------------------------------------------------------------
    // 3. WAN: tbf on the sending end
    const wanFile = path.join(data, 'wan', 'random.bin')
    await randomFile(wanFile, p.wanRandom, 'drcore-bench-wan-random')
    let wanBackups: unknown[] = []
    if (withDrcore) {
      ctx.log('WAN: backups of the incompressible file and of the small image (untimed)')
      wanBackups = [await backup('wanrand', `data=${wanFile}`), await backup('wanimg', `disk=${wanImage.path}`)]
      for (const m of ['wanrand', 'wanimg']) await cli(src!, ['replicate', m, '--to', TARGET_OF[m], '--schedule', ONLY_BY_HAND])
    }
    await net.shape(LINK.rate, LINK.burst, LINK.latency)
    ctx.log(`WAN: tbf rate ${LINK.rate} burst ${LINK.burst} latency ${LINK.latency} on ${net.ifSrc}`)
    const wan: Record<string, unknown> = { backups: wanBackups }
    const randLabel = `${sizeLabel(p.wanRandom)} incompressible`
    let dRand: WanTransfer | undefined
    if (withDrcore) {
      await warmCache(src!.repo)
      dRand = await wanTransfer(net, async () => await cli(src!, ['replication', 'now', 'wanrand', '--to', TARGET_OF.wanrand, '--json']), jobOf)
      ctx.log(`  drcore ${randLabel}: ${dRand.wallSeconds.toFixed(1)} s, bulk ${formatBytes(dRand.linkRate)}/s on the link (${(dRand.linkRate / LINK.bytesPerSecond * 100).toFixed(1)}%)`)
      if (!await completeOnDst('wanrand')) notes.push('CHECK FAILED: wanrand is not complete on the target')
    }
    await warmCache(wanFile)
    const rRand = await wanTransfer(net, async () => await rsync(['-a', wanFile, `${rsyncd.url}/wanrand/`]))
    ctx.log(`  rsync  ${randLabel}: ${rRand.wallSeconds.toFixed(1)} s, bulk ${formatBytes(rRand.linkRate)}/s on the link (${(rRand.linkRate / LINK.bytesPerSecond * 100).toFixed(1)}%)`)
    rows.push({
      metric: `WAN 24 Mbit/s (3.00 MB/s), ${randLabel}: rate on the link while it replicates`,
      unit: 'bytes/s',
      drcore: dRand?.linkRate ?? null,
      anchor: { name: 'rsync', value: rRand.linkRate },
      target: { kind: 'abs-min', value: LINK_USE_TARGET * LINK.bytesPerSecond }
    })
    rows.push({
      metric: 'same: payload rate (file bytes / wall time of the command)',
      unit: 'bytes/s',
      drcore: dRand === undefined ? null : p.wanRandom / dRand.wallSeconds,
      anchor: { name: 'rsync', value: p.wanRandom / rRand.wallSeconds }
    })
    rows.push({
      metric: 'same: wall time',
      unit: 'seconds',
      drcore: dRand?.wallSeconds ?? null,
      anchor: { name: 'rsync', value: rRand.wallSeconds }
    })

    const imgLabel = `${sizeLabel(wanImage.sizeBytes)} ext4 image of real files, ${(wanImage.fill * 100).toFixed(0)}% full`
    let dImg: WanTransfer | undefined
    if (withDrcore) {
      await warmCache(src!.repo)
      dImg = await wanTransfer(net, async () => await cli(src!, ['replication', 'now', 'wanimg', '--to', TARGET_OF.wanimg, '--json']), jobOf)
      ctx.log(`  drcore ${imgLabel}: ${dImg.wallSeconds.toFixed(1)} s, wire ${formatBytes(dImg.wireBytes)}, delivered ${formatBytes(wanImage.sizeBytes / dImg.wallSeconds)}/s`)
      if (!await completeOnDst('wanimg')) notes.push('CHECK FAILED: wanimg is not complete on the target')
    }
    await warmCache(wanImage.path)
    const rImgZ = await wanTransfer(net, async () => await rsync(['-az', wanImage.path, `${rsyncd.url}/wanimg-z/`]))
    ctx.log(`  rsync -az ${imgLabel}: ${rImgZ.wallSeconds.toFixed(1)} s, wire ${formatBytes(rImgZ.wireBytes)}, delivered ${formatBytes(wanImage.sizeBytes / rImgZ.wallSeconds)}/s`)
    rows.push({
      metric: `WAN, ${imgLabel}: delivered rate (image bytes / wall time)`,
      unit: 'bytes/s',
      drcore: dImg === undefined ? null : wanImage.sizeBytes / dImg.wallSeconds,
      anchor: { name: 'rsync -az', value: wanImage.sizeBytes / rImgZ.wallSeconds },
      target: { kind: 'abs-min', value: LINK.bytesPerSecond }
    })
    rows.push({
      metric: 'same: bytes on the wire',
      unit: 'bytes',
      drcore: dImg?.wireBytes ?? null,
      anchor: { name: 'rsync -az', value: rImgZ.wireBytes }
    })
    wan.random = { drcore: dRand, rsync: rRand }
    wan.image = { drcore: dImg, rsyncZ: rImgZ }
    wan.qdisc = await net.qdisc()
    details.wan = wan
    await net.unshape()

    // the namespaces are done with
    if (withDrcore) notes.push(...await failedJobs(cores))
    for (const c of cores.splice(0)) await c.stop()
    for (const r of rsyncds.splice(0)) await r.stop()
    net.destroy()

    // -------------------------------------------------------------------------------------------
    // 4. Fan-out and chain on 127.0.0.1
    const fanFile = path.join(data, 'fan', 'fan.bin')
    const chainFile = path.join(data, 'chain', 'chain.bin')
    await randomFile(fanFile, p.fanout, 'drcore-bench-fan')
    await randomFile(chainFile, p.fanout, 'drcore-bench-chain')
    const fanLabel = `${sizeLabel(p.fanout)} point`
    const targets = ['b', 'c', 'd', 'e']
    const topo: Record<string, unknown> = {}
    let dFan: number | null = null
    let dChain: number | null = null
    if (withDrcore) {
      ctx.log('fan-out and chain: five Cores on 127.0.0.1')
      const all: DaemonCore[] = []
      for (const n of ['a', ...targets]) all.push(await benchCore(cleanup, path.join(base, 'topo'), n))
      cores.push(...all)
      for (const c of all) await startBenchCore(c)
      const [a, ...rest] = all
      const byName = Object.fromEntries(all.map(c => [c.name, c]))
      for (const t of rest) await a.pairWith(t, { timeoutMs: 120_000 })
      for (let i = 0; i + 1 < rest.length; i++) await rest[i].pairWith(rest[i + 1], { timeoutMs: 120_000 })
      ctx.log('  paired: a -> b, c, d, e; b -> c -> d -> e')
      const fanPoint = await a.json<{ point: string }>(['backup', 'fan', `data=${fanFile}`])
      const chainPoint = await a.json<{ point: string }>(['backup', 'chain', `data=${chainFile}`])
      for (const t of targets) await cli(a, ['replicate', 'fan', '--to', t, '--schedule', ONLY_BY_HAND])
      await cli(a, ['replicate', 'chain', '--to', 'b', '--schedule', ONLY_BY_HAND])
      // forwarding rules, made before the point arrives; after-backup rules also run when a point arrives
      for (let i = 0; i + 1 < rest.length; i++) {
        const from = i === 0 ? 'a' : rest[i - 1].name
        await cli(rest[i], ['replicate', `${from}/chain`, '--to', rest[i + 1].name])
      }
      await warmCache(a.repo)
      await run('sync', [])

      // `ruleNow` waits for its job (wait: false fails the job it starts, see the notes); the
      // arrivals are polled on the targets meanwhile
      const arrivals = async (machine: string, point: string, start: () => Promise<unknown>): Promise<Record<string, number>> => {
        const t0 = performance.now()
        const started = start()
        const seen: Record<string, number> = {}
        await Promise.all([started, ...targets.map(async t => {
          const deadline = Date.now() + 600_000
          for (;;) {
            // an unknown machine is an error: not there yet
            const pts = await byName[t].api('points', { machine }).catch(() => []) as Array<{ point: string, complete: boolean }>
            if (pts.some(x => x.point === point && x.complete)) { seen[t] = (performance.now() - t0) / 1000; return }
            if (Date.now() > deadline) throw new Error(`${machine} did not reach ${t} in 600 s`)
            await sleep(200)
          }
        })])
        return seen
      }
      topo.loadBeforeDrcoreFan = loadavg()[0]
      const fan = await arrivals('fan', fanPoint.point, async () => {
        await Promise.all(targets.map(async t => await a.api('ruleNow', { machine: 'fan', to: t })))
      })
      dFan = Math.max(...Object.values(fan))
      ctx.log(`  drcore fan-out: every target has it after ${dFan.toFixed(2)} s (${targets.map(t => `${t} ${fan[t].toFixed(2)}`).join(', ')})`)
      topo.loadBeforeDrcoreChain = loadavg()[0]
      const chain = await arrivals('chain', chainPoint.point, async () => {
        await a.api('ruleNow', { machine: 'chain', to: 'b' })
      })
      dChain = Math.max(...Object.values(chain))
      ctx.log(`  drcore chain: e has it after ${dChain.toFixed(2)} s (${targets.map(t => `${t} ${chain[t].toFixed(2)}`).join(', ')})`)
      topo.drcore = { fan, chain, fanPoint, chainPoint }
      notes.push(...await failedJobs(cores))
      for (const c of cores.splice(0)) await c.stop()
    }

    // rsync: one daemon on 127.0.0.1 with a folder per target; fan-out = four clients at once,
    // chain = A -> B, then B's copy -> C, and so on (store and forward, as the Cores do)
    const root = path.join(base, 'rsync-topo')
    const rsyncTopo = await RsyncDaemon.start(cleanup, path.join(base, 'rsyncd-topo'), root, null, '127.0.0.1', await freePort())
    rsyncds.push(rsyncTopo)
    await warmCache(fanFile)
    await run('sync', [])
    topo.loadBeforeRsyncFan = loadavg()[0]
    let t0 = performance.now()
    await Promise.all(targets.map(async t => await rsyncTopo.rsync(['-a', fanFile, `${rsyncTopo.url}/fan-${t}/`])))
    const rFan = (performance.now() - t0) / 1000
    await warmCache(chainFile)
    await run('sync', [])
    topo.loadBeforeRsyncChain = loadavg()[0]
    t0 = performance.now()
    const hops: number[] = []
    let from = chainFile
    for (const t of targets) {
      await rsyncTopo.rsync(['-a', from, `${rsyncTopo.url}/chain-${t}/`])
      hops.push((performance.now() - t0) / 1000)
      from = path.join(root, `chain-${t}`, path.basename(chainFile))
    }
    const rChain = (performance.now() - t0) / 1000
    ctx.log(`  rsync fan-out ${rFan.toFixed(2)} s, chain ${rChain.toFixed(2)} s`)
    topo.rsync = { fan: rFan, chain: rChain, chainHops: hops }
    for (const r of rsyncds.splice(0)) await r.stop()
    details.topologies = topo
    rows.push({
      metric: `fan-out A -> B, C, D, E on 127.0.0.1, ${fanLabel} of incompressible data: time until every target has it`,
      unit: 'seconds',
      drcore: dFan,
      anchor: { name: 'rsync x4 at once', value: rFan }
    })
    rows.push({
      metric: `chain A -> B -> C -> D -> E on 127.0.0.1, ${fanLabel}: time until E has it`,
      unit: 'seconds',
      drcore: dChain,
      anchor: { name: 'rsync hop by hop', value: rChain }
    })
  } finally {
    for (const c of cores) await c.stop().catch(() => {})
    for (const r of rsyncds) await r.stop().catch(() => {})
    net.destroy()
    cleanup.dispose()
  }
  notes.push('parts 1-3 run between two network namespaces joined by a veth pair (unshaped: as fast as loopback; shaped with tbf for the WAN rows); bytes on the wire are the veth\'s rx + tx bytes (Ethernet frames, headers included), counted by the kernel outside both tools')
  notes.push('drcore\'s wall time is the `drcore replication now` command (a CLI process talking to the running daemon; it returns once the target acknowledged the point complete); rsync\'s is `rsync -a` pushing to an rsync daemon on the target side')
  notes.push(`WAN link rate: bytes sent on the shaped interface per second during the bulk of the transfer (from the last 100 ms sample before 256 KiB had gone to the first within 256 KiB of the end); target ${LINK_USE_TARGET * 100}% of ${LINK.rate}`)
  return { rows, details, notes }
}

export const section: BenchSection = {
  name: 'replication',
  title: 'Replication: drcore vs rsync (initial, incremental bytes, WAN link, fan-out and chain)',
  tools: [
    { bin: 'rsync', pkg: 'rsync' },
    { bin: 'ip', pkg: 'iproute2' },
    { bin: 'tc', pkg: 'iproute2' },
    { bin: 'sync', pkg: 'coreutils' },
    { bin: 'mke2fs', pkg: 'e2fsprogs' },
    { bin: 'dumpe2fs', pkg: 'e2fsprogs' }
  ],
  run: run_
}
