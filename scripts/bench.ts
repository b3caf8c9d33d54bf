/**
 * drcore benchmark harness: `npm run bench -- [options]` (see docs/benchmarks.md).
 *
 * Every figure is measured against anchor tools (restic, rsync) in the same run, on the same
 * machine and data, and reported as a drcore/anchor ratio. Sections live in
 * `scripts/bench/<section>.ts` and are registered in SECTIONS below.
 */
import { execFileSync } from 'node:child_process'
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import {
  DRCORE_JS, NODE_BIN, REPO_ROOT, describeTarget, formatValue, ratio, run, table, targetMet, which
} from './bench/lib.ts'
import type { BenchContext, BenchSection, Mode, SectionResult, Tool } from './bench/lib.ts'

/** Sections that really measure, in run order. */
const SECTIONS: Record<string, () => Promise<BenchSection>> = {
  backup: async () => (await import('./bench/backup.ts')).section,
  replication: async () => (await import('./bench/replication.ts')).section,
  seed: async () => (await import('./bench/seed.ts')).section,
  prune: async () => (await import('./bench/prune.ts')).section,
  s3: async () => (await import('./bench/s3.ts')).section,
  limits: async () => (await import('./bench/limits.ts')).section
}

const USAGE = `usage: npm run bench -- [options]

  --only a,b     run only these sections (available: ${Object.keys(SECTIONS).join(', ')})
  --work DIR     work dir for corpora, repositories and results (default: bench-work/)
  --quick        small corpora: a smoke run in a minute or two; figures are not meaningful
  --full         everything, including parts left out of the default run
  --repeat N     time each initial backup N times (fresh repository each) and report the median
  --profile      run drcore under --cpu-prof and print where its time goes
  -h, --help     this text

Results: a table on stdout; <work>/results.json (results-quick.json for --quick),
and a copy of every run under <work>/runs/.`

const BASE_TOOLS: Tool[] = [
  { bin: 'du', pkg: 'coreutils' },
  { bin: 'cp', pkg: 'coreutils' },
  { bin: 'find', pkg: 'findutils' },
  { bin: 'xargs', pkg: 'findutils' }
]

function fail (msg: string, code = 2): never {
  process.stderr.write(`bench: ${msg}\n`)
  process.exit(code)
}

function version (cmd: string, args: string[]): string | null {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n')[0]
  } catch { return null }
}

function memTotal (): number {
  const m = readFileSync('/proc/meminfo', 'utf8').match(/^MemTotal:\s+(\d+) kB/m)
  return m === null ? os.totalmem() : Number(m[1]) * 1024
}

async function main (): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      work: { type: 'string' },
      quick: { type: 'boolean', default: false },
      full: { type: 'boolean', default: false },
      repeat: { type: 'string', default: '1' },
      profile: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false }
    },
    strict: true
  })
  if (values.help) { process.stdout.write(USAGE + '\n'); return 0 }
  if (values.quick && values.full) fail('--quick and --full exclude each other')
  const mode: Mode = values.quick ? 'quick' : values.full ? 'full' : 'default'
  const repeat = Number(values.repeat)
  if (!Number.isInteger(repeat) || repeat < 1) fail(`--repeat wants a positive integer, not "${values.repeat}"`)
  const names = values.only === undefined ? Object.keys(SECTIONS) : values.only.split(',').map(s => s.trim()).filter(s => s !== '')
  for (const n of names) if (!(n in SECTIONS)) fail(`unknown section "${n}"; available: ${Object.keys(SECTIONS).join(', ')}`)
  const sections = await Promise.all(names.map(n => SECTIONS[n]()))

  // Anchors and helpers must exist before anything is built.
  const missing = new Map<string, string[]>()
  for (const t of [...BASE_TOOLS, ...sections.flatMap(s => s.tools)]) {
    if (which(t.bin) === null) missing.set(t.pkg, [...(missing.get(t.pkg) ?? []), t.bin])
  }
  if (missing.size > 0) {
    const lines = [...missing].map(([pkg, bins]) => `  ${[...new Set(bins)].join(', ')}: Debian package "${pkg}"`)
    fail(`missing tools:\n${lines.join('\n')}\ninstall them with: apt-get install -y ${[...missing.keys()].join(' ')}`, 1)
  }

  const work = path.resolve(values.work ?? path.join(REPO_ROOT, 'bench-work'))
  mkdirSync(work, { recursive: true })
  const lockPath = path.join(work, '.lock')
  let lockFd: number
  try {
    lockFd = openSync(lockPath, 'wx')
  } catch {
    const pid = Number(readFileSync(lockPath, 'utf8'))
    let alive = false
    try { process.kill(pid, 0); alive = true } catch {}
    if (alive) fail(`another benchmark (pid ${pid}) is using ${work}`)
    rmSync(lockPath, { force: true })
    lockFd = openSync(lockPath, 'wx')
  }
  writeFileSync(lockFd, String(process.pid))
  closeSync(lockFd)
  process.on('exit', () => rmSync(lockPath, { force: true }))
  process.on('SIGINT', () => process.exit(130))
  process.on('SIGTERM', () => process.exit(143))

  // drcore itself: when its CLI does not run, the anchors are still measured.
  let drcore: BenchContext['drcore'] = { available: true }
  try {
    await run(NODE_BIN, [DRCORE_JS, '--help'])
  } catch (err) {
    const res = (err as { result?: { stderr: string, stdout: string } }).result
    const lines = res === undefined ? String(err).split('\n') : (res.stderr + '\n' + res.stdout).split('\n')
    const cause = lines.find(l => /^(\S*Error\b|drcore:)/.test(l.trim())) ?? lines.find(l => l.trim() !== '')
    drcore = { available: false, reason: `drcore --help failed: ${(cause ?? String(err)).trim()}` }
  }

  const started = new Date()
  const log = (msg: string): void => {
    const t = ((Date.now() - started.getTime()) / 1000).toFixed(0).padStart(4)
    process.stderr.write(`[${t}s] ${msg}\n`)
  }
  const gitCommit = version('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD'])
  const gitDirty = version('git', ['-C', REPO_ROOT, 'status', '--porcelain', '--', 'src', 'bin'])
  const env = {
    date: started.toISOString(),
    mode,
    repeat,
    profile: values.profile,
    machine: {
      nproc: os.availableParallelism(),
      memoryBytes: memTotal(),
      cpu: os.cpus()[0]?.model ?? 'unknown',
      kernel: `${os.type()} ${os.release()}`,
      loadavgAtStart: os.loadavg()
    },
    versions: {
      node: version(NODE_BIN, ['--version']),
      restic: version('restic', ['version']),
      rsync: version('rsync', ['--version']),
      e2fsprogs: version('sh', ['-c', 'dumpe2fs -V 2>&1']),
      drcore: gitCommit === null ? null : `${gitCommit}${gitDirty === '' || gitDirty === null ? '' : ' (src/bin modified)'}`
    },
    drcore
  }
  log(`mode ${mode}, work ${work}, ${env.machine.nproc} CPUs, ${(env.machine.memoryBytes / 2 ** 30).toFixed(1)} GiB RAM, load ${os.loadavg()[0].toFixed(2)}`)
  log(`node ${env.versions.node}, ${env.versions.restic}, drcore ${env.versions.drcore}`)
  if (!drcore.available) log(`WARNING: the drcore CLI does not run (${drcore.reason}); measuring the anchors only`)
  if (mode === 'quick') log('quick mode: small corpora, a smoke test; do not quote these figures')

  const ctx: BenchContext = { work, mode, repeat, profile: values.profile, drcore, log }
  const results: Record<string, SectionResult | { error: string }> = {}
  let failed = false
  for (const s of sections) {
    log(`== ${s.name}: ${s.title}`)
    try {
      results[s.name] = await s.run(ctx)
    } catch (err) {
      failed = true
      results[s.name] = { error: String((err as Error).stack ?? err) }
      log(`section ${s.name} failed: ${(err as Error).message}`)
    }
  }
  const finished = new Date()

  // Report.
  const out: string[] = []
  out.push(`drcore benchmark, ${env.date} (${mode}), ${env.machine.nproc} CPUs, ${(env.machine.memoryBytes / 2 ** 30).toFixed(1)} GiB RAM`)
  out.push(`node ${env.versions.node}; ${env.versions.restic}; drcore ${env.versions.drcore}; run took ${((finished.getTime() - started.getTime()) / 60000).toFixed(1)} min`)
  for (const s of sections) {
    const r = results[s.name]
    out.push('', `## ${s.name}: ${s.title}`)
    if ('error' in r) { out.push(`FAILED: ${r.error.split('\n')[0]}`); continue }
    out.push(table(['metric', 'drcore', 'anchor', 'drcore/anchor', 'target', 'met'], r.rows.map(row => {
      const q = ratio(row)
      const met = targetMet(row)
      return [
        row.metric,
        row.drcore === null ? '—' : formatValue(row.drcore, row.unit),
        row.anchor === null ? '—' : `${row.anchor.name} ${formatValue(row.anchor.value, row.unit)}`,
        q === null ? '—' : q.toFixed(q < 0.1 ? 3 : 2),
        describeTarget(row),
        met === null ? (row.target === undefined ? '' : '—') : met ? 'yes' : 'NO'
      ]
    })))
    for (const n of r.notes) out.push(`note: ${n}`)
  }
  if (!drcore.available) out.push('', `drcore was not measured: ${drcore.reason}`)
  process.stdout.write(out.join('\n') + '\n')

  const json = {
    ...env,
    finished: finished.toISOString(),
    durationSeconds: (finished.getTime() - started.getTime()) / 1000,
    loadavgAtEnd: os.loadavg(),
    sections: Object.fromEntries(Object.entries(results).map(([name, r]) => [name, 'error' in r
      ? r
      : {
          rows: r.rows.map(row => ({ ...row, ratio: ratio(row), met: targetMet(row) })),
          notes: r.notes,
          details: r.details
        }]))
  }
  const body = JSON.stringify(json, null, 2) + '\n'
  const resultsFile = path.join(work, mode === 'quick' ? 'results-quick.json' : 'results.json')
  writeFileSync(resultsFile, body)
  mkdirSync(path.join(work, 'runs'), { recursive: true })
  writeFileSync(path.join(work, 'runs', `${env.date.replace(/[:.]/g, '-')}-${mode}.json`), body)
  log(`results written to ${resultsFile}`)
  if (failed) return 1
  return drcore.available ? 0 : 3
}

process.exitCode = await main()
