/**
 * `npm run coverage [-- <test files>]`: the test suite (or the files given) under Node's built-in
 * coverage (`--experimental-test-coverage`), counting the project's own code (src/ and bin/: not
 * the tests, the scripts, or the console's browser modules, which run in Chromium), then one
 * summary: lines, branches and functions per directory of src/ and overall. The full per-file
 * figures are in coverage/lcov.info.
 *
 * The daemons the end-to-end tests start (`bin/drcore.js start`) count too: they inherit the
 * coverage directory and write to it when they exit (not when a test kills them with SIGKILL).
 * Node reports only the files a test loaded; a source file no test loads is listed and counted
 * as uncovered lines (modules that hold only types are skipped: nothing of them runs).
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { stripTypeScriptTypes } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const LCOV = join(ROOT, 'coverage', 'lcov.info')
const files = process.argv.slice(2)

mkdirSync(dirname(LCOV), { recursive: true })
const run = spawnSync(process.execPath, [
  '--test', '--test-concurrency=2', '--test-timeout=300000',
  '--experimental-test-coverage',
  '--test-coverage-include=src/**', '--test-coverage-include=bin/**',
  '--test-coverage-exclude=src/http/console/**',
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  '--test-reporter=lcov', `--test-reporter-destination=${LCOV}`,
  ...(files.length > 0 ? files : ['test/**/*.test.ts'])
], { cwd: ROOT, stdio: 'inherit' })

interface Counts { lines: [number, number], branches: [number, number], functions: [number, number] }
const zero = (): Counts => ({ lines: [0, 0], branches: [0, 0], functions: [0, 0] })

/** lcov records: LH/LF lines hit/found, BRH/BRF branches, FNH/FNF functions. */
function readLcov (text: string): Map<string, Counts> {
  const perFile = new Map<string, Counts>()
  let counts = zero()
  let file = ''
  for (const line of text.split('\n')) {
    const [key, value] = [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)]
    if (key === 'SF') { file = relative(ROOT, value); counts = zero() } else if (key === 'LH') counts.lines[0] = Number(value)
    else if (key === 'LF') counts.lines[1] = Number(value)
    else if (key === 'BRH') counts.branches[0] = Number(value)
    else if (key === 'BRF') counts.branches[1] = Number(value)
    else if (key === 'FNH') counts.functions[0] = Number(value)
    else if (key === 'FNF') counts.functions[1] = Number(value)
    else if (line === 'end_of_record') perFile.set(file, counts)
  }
  return perFile
}

function add (into: Counts, c: Counts): void {
  for (const k of ['lines', 'branches', 'functions'] as const) { into[k][0] += c[k][0]; into[k][1] += c[k][1] }
}

const percent = ([hit, found]: [number, number]): string => found === 0 ? '–' : `${(100 * hit / found).toFixed(1)} %`

let lcov: string
try {
  lcov = readFileSync(LCOV, 'utf8')
} catch {
  console.error(`coverage: the test run wrote no report to ${relative(ROOT, LCOV)}`)
  process.exit(run.status ?? 1)
}
const groups = new Map<string, Counts>()
const total = zero()
for (const [file, counts] of readLcov(lcov)) {
  const parts = file.split('/')
  const group = parts[0] === 'src' && parts.length > 2 ? `src/${parts[1]}/` : file
  if (!groups.has(group)) groups.set(group, zero())
  add(groups.get(group)!, counts)
  add(total, counts)
}
// files no test loaded: uncovered lines (branches and functions are unknown without a run)
const reported = new Set(readLcov(lcov).keys())
const unloaded: string[] = []
for (const file of [...readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' }).map(f => `src/${f}`), 'bin/drcore.js']) {
  if (!/\.(ts|js)$/.test(file) || file.startsWith('src/http/console/') || reported.has(file)) continue
  const source = readFileSync(join(ROOT, file), 'utf8')
  const code = (file.endsWith('.ts') ? stripTypeScriptTypes(source) : source).replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '').trim()
  if (code === '') continue
  unloaded.push(file)
  const counts = zero()
  counts.lines[1] = source.split('\n').length - (source.endsWith('\n') ? 1 : 0)
  const parts = file.split('/')
  const group = parts[0] === 'src' && parts.length > 2 ? `src/${parts[1]}/` : file
  if (!groups.has(group)) groups.set(group, zero())
  add(groups.get(group)!, counts)
  add(total, counts)
}
const rows = [...groups].sort(([a], [b]) => a.localeCompare(b)).map(([name, c]) => [name, percent(c.lines), percent(c.branches), percent(c.functions)])
rows.push(['all files', percent(total.lines), percent(total.branches), percent(total.functions)])
const header = ['', 'lines', 'branches', 'functions']
const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => r[i].length)))
const format = (r: string[]): string => r.map((cell, i) => i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])).join('  ')
console.log(`\ncoverage of src/ and bin/ (${relative(ROOT, LCOV)} has every file)`)
console.log(format(header))
for (const row of rows) console.log(format(row))
if (unloaded.length > 0) console.log(`never loaded by a test (counted as uncovered lines): ${unloaded.join(', ')}`)
console.log(`lines ${total.lines[0]}/${total.lines[1]}, branches ${total.branches[0]}/${total.branches[1]}, functions ${total.functions[0]}/${total.functions[1]}`)
process.exitCode = run.status ?? 1
