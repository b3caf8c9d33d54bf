/**
 * Shared pieces of the benchmark harness: the section interface, running commands under
 * `/usr/bin/time -v`, sizes on disk, a seeded PRNG, and formatting.
 */
import { spawn } from 'node:child_process'
import { createCipheriv, createHash } from 'node:crypto'
import { createReadStream, existsSync, readFileSync, rmSync } from 'node:fs'
import { mkdtemp, open, readFile } from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import { loadavg, tmpdir } from 'node:os'
import path from 'node:path'

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..')
/** The Node 24 binary of the devDependency `node`: drcore runs on it directly, never through npx. */
export const NODE_BIN = path.join(REPO_ROOT, 'node_modules', 'node', 'bin', 'node')
export const DRCORE_JS = path.join(REPO_ROOT, 'bin', 'drcore.js')

export type Mode = 'quick' | 'default' | 'full'

/** An external program a section needs, and the Debian package that provides it. */
export interface Tool {
  bin: string
  pkg: string
}

export interface BenchContext {
  /** Absolute work dir: corpora, repositories, results. */
  work: string
  mode: Mode
  /** How many times each timed initial backup runs (fresh repository each time); the median is reported. */
  repeat: number
  /** Run drcore with `--cpu-prof` and summarize where time goes. */
  profile: boolean
  /** Whether the drcore CLI answered `--help`; when not, sections measure the anchors only. */
  drcore: { available: boolean, reason?: string }
  log: (msg: string) => void
}

/** Targets are stated as drcore/anchor ratios or as absolute bounds (ceilings, or floors for rates). */
export type Target =
  | { kind: 'ratio-max', value: number }
  | { kind: 'abs-max', value: number }
  | { kind: 'ratio-min', value: number }
  | { kind: 'abs-min', value: number }

export interface Row {
  metric: string
  unit: 'seconds' | 'bytes' | 'bytes/s' | 'count'
  drcore: number | null
  anchor: { name: string, value: number } | null
  target?: Target
  note?: string
}

export interface SectionResult {
  rows: Row[]
  /** Raw measurements, written verbatim to results.json. */
  details: Record<string, unknown>
  /** Human-readable notes printed under the table (skipped parts, caveats). */
  notes: string[]
}

export interface BenchSection {
  name: string
  title: string
  tools: Tool[]
  run: (ctx: BenchContext) => Promise<SectionResult>
}

export function ratio (row: Row): number | null {
  if (row.drcore === null || row.anchor === null || row.anchor.value === 0) return null
  return row.drcore / row.anchor.value
}

export function targetMet (row: Row): boolean | null {
  if (row.target === undefined || row.drcore === null) return null
  if (row.target.kind === 'abs-max') return row.drcore <= row.target.value
  if (row.target.kind === 'abs-min') return row.drcore >= row.target.value
  const r = ratio(row)
  if (r === null) return null
  return row.target.kind === 'ratio-min' ? r >= row.target.value : r <= row.target.value
}

export function describeTarget (row: Row): string {
  const t = row.target
  if (t === undefined) return ''
  if (t.kind === 'ratio-max') return `ratio <= ${t.value}`
  if (t.kind === 'ratio-min') return `ratio >= ${t.value}`
  if (t.kind === 'abs-min') return `>= ${formatValue(t.value, row.unit)}`
  return `< ${formatValue(t.value, row.unit)}`
}

// ---------------------------------------------------------------------------------------------
// Running commands

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** Exit codes accepted besides 0. */
  okCodes?: number[]
  /** Write stdout to this file descriptor instead of collecting it (e.g. for `cat > /dev/null`). */
  discardStdout?: boolean
}

export function run (cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', opts.discardStdout === true ? 'ignore' : 'pipe', 'pipe']
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout?.on('data', (b: Buffer) => out.push(b))
    child.stderr?.on('data', (b: Buffer) => err.push(b))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      const res = {
        code: code ?? (signal !== null ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8')
      }
      if (res.code === 0 || (opts.okCodes ?? []).includes(res.code)) resolve(res)
      else {
        const tail = (res.stderr.trim() || res.stdout.trim()).split('\n').slice(-15).join('\n')
        reject(Object.assign(new Error(`${cmd} ${args.join(' ')} exited with ${signal ?? res.code}\n${tail}`), { result: res }))
      }
    })
  })
}

export interface TimedResult extends RunResult {
  /** Wall time measured by the harness around the process (seconds). */
  wallSeconds: number
  userSeconds: number
  sysSeconds: number
  /** Maximum resident set size of the measured process (bytes), from `/usr/bin/time -v`. */
  maxRssBytes: number
  /** 1-minute load average just before the run: a noise indicator on a shared machine. */
  loadBefore: number
}

/**
 * Runs `cmd` under `/usr/bin/time -v`. The command must be the measured process itself (not a
 * wrapper such as npx), so that the maximum RSS is the process's own.
 */
export async function timed (cmd: string, args: string[], opts: RunOptions = {}): Promise<TimedResult> {
  const dir = await mkdtemp(path.join(tmpdir(), 'drcore-bench-'))
  const timeFile = path.join(dir, 'time.txt')
  const loadBefore = loadavg()[0]
  const t0 = process.hrtime.bigint()
  let res: RunResult
  try {
    res = await run('/usr/bin/time', ['-v', '-o', timeFile, cmd, ...args], opts)
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9
  const text = await readFile(timeFile, 'utf8')
  rmSync(dir, { recursive: true, force: true })
  const field = (name: string): number => {
    const m = text.match(new RegExp(`^\\s*${name.replace(/[()]/g, '\\$&')}: (.*)$`, 'm'))
    if (m === null) throw new Error(`/usr/bin/time output lacks "${name}":\n${text}`)
    return Number(m[1])
  }
  return {
    ...res,
    wallSeconds,
    userSeconds: field('User time (seconds)'),
    sysSeconds: field('System time (seconds)'),
    maxRssBytes: field('Maximum resident set size (kbytes)') * 1024,
    loadBefore
  }
}

/** Apparent size in bytes of a file or tree (`du -sb`). */
export async function duBytes (p: string): Promise<number> {
  const { stdout } = await run('du', ['-sb', p])
  return Number(stdout.split('\t')[0])
}

/** Reads every regular file under `p` once, so that both tools start from a warm page cache. */
export async function warmCache (p: string): Promise<void> {
  await run('sh', ['-c', 'find "$1" -type f -print0 | xargs -0 -r cat > /dev/null', 'warm', p], { discardStdout: true })
}

export function which (bin: string): string | null {
  if (bin.includes('/')) return existsSync(bin) ? bin : null
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(dir, bin)
    if (dir !== '' && existsSync(p)) return p
  }
  return null
}

export function resetDir (p: string): void {
  rmSync(p, { recursive: true, force: true })
}

export function readJsonFile<T> (p: string): T | null {
  try { return JSON.parse(readFileSync(p, 'utf8')) as T } catch { return null }
}

/** Parses the last JSON object a command printed on stdout (tolerates log lines before it). */
export function lastJson<T> (stdout: string): T {
  const text = stdout.trim()
  try { return JSON.parse(text) as T } catch {}
  const lines = text.split('\n')
  for (let i = lines.length - 1; i >= 0; i--) {
    if (!lines[i].trimStart().startsWith('{')) continue
    try { return JSON.parse(lines.slice(i).join('\n')) as T } catch {}
  }
  throw new Error(`no JSON object in output:\n${text.slice(-2000)}`)
}

export function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

// ---------------------------------------------------------------------------------------------
// Deterministic randomness

/** splitmix64-based PRNG: same seed, same sequence, on every machine. */
export class Prng {
  #state: bigint
  constructor (seed: string) {
    this.#state = createHash('sha256').update(seed).digest().readBigUInt64LE(0)
  }

  next64 (): bigint {
    this.#state = (this.#state + 0x9E3779B97F4A7C15n) & 0xFFFFFFFFFFFFFFFFn
    let z = this.#state
    z = ((z ^ (z >> 30n)) * 0xBF58476D1CE4E5B9n) & 0xFFFFFFFFFFFFFFFFn
    z = ((z ^ (z >> 27n)) * 0x94D049BB133111EBn) & 0xFFFFFFFFFFFFFFFFn
    return z ^ (z >> 31n)
  }

  /** Uniform integer in [0, n). */
  below (n: number): number {
    return Number(this.next64() % BigInt(n))
  }
}

/** A deterministic stream of incompressible bytes (AES-128-CTR keystream of the seed). */
export function randomStream (seed: string): (n: number) => Buffer {
  const key = createHash('sha256').update(`key:${seed}`).digest()
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32))
  return (n: number) => cipher.update(Buffer.alloc(n))
}

// ---------------------------------------------------------------------------------------------
// Formatting

export function formatBytes (n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB']
  let v = n
  let i = 0
  while (Math.abs(v) >= 1000 && i < units.length - 1) { v /= 1000; i++ }
  return `${v.toFixed(i === 0 ? 0 : v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`
}

export function formatValue (v: number, unit: Row['unit']): string {
  if (unit === 'bytes/s') return `${formatBytes(v)}/s`
  if (unit === 'count') return String(v)
  return unit === 'seconds' ? `${v.toFixed(v < 10 ? 2 : 1)} s` : formatBytes(v)
}

export function table (header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]): string =>
    '| ' + cells.map((c, i) => (c ?? '').padEnd(widths[i])).join(' | ') + ' |'
  return [line(header), '|' + widths.map(w => '-'.repeat(w + 2)).join('|') + '|', ...rows.map(line)].join('\n')
}

/** The seed of the image change every section applies, so their figures describe the same change. */
export const IMAGE_MUTATION_SEED = 'drcore-bench-mutation-v1'
const IMAGE_BLOCK = 4096

/** Rewrites `fraction` of the image's 4 KiB blocks, chosen at random from a fixed seed, with random bytes. */
export async function mutateImage (image: string, sizeBytes: number, fraction: number): Promise<{ blocks: number, bytes: number }> {
  const total = Math.floor(sizeBytes / IMAGE_BLOCK)
  const n = Math.round(total * fraction)
  const prng = new Prng(IMAGE_MUTATION_SEED)
  const chosen = new Set<number>()
  while (chosen.size < n) chosen.add(prng.below(total))
  const random = randomStream(IMAGE_MUTATION_SEED)
  const fh = await open(image, 'r+')
  try {
    for (const b of [...chosen].sort((x, y) => x - y)) await fh.write(random(IMAGE_BLOCK), 0, IMAGE_BLOCK, b * IMAGE_BLOCK)
    await fh.sync()
  } finally {
    await fh.close()
  }
  return { blocks: n, bytes: n * IMAGE_BLOCK }
}

export async function sha256File (p: string): Promise<string> {
  const h = createHash('sha256')
  await pipeline(createReadStream(p), h)
  return h.digest('hex')
}
