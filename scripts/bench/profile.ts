/**
 * Summarizes V8 `.cpuprofile` files (written by `node --cpu-prof`): self time per function and
 * per source file, so the benchmark can say where drcore's time goes.
 *
 * Standalone: `npx node scripts/bench/profile.ts FILE.cpuprofile [TOP]`.
 */
import { readFile, readdir } from 'node:fs/promises'
import path from 'node:path'
import { REPO_ROOT } from './lib.ts'

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

export interface ProfileSummary {
  file: string
  totalMs: number
  /** Self time by function (`name (file:line)`), largest first. */
  functions: Array<{ name: string, ms: number, share: number }>
  /** Self time by source file (or `(native)`, `(gc)`, `(idle)` ...), largest first. */
  files: Array<{ name: string, ms: number, share: number }>
}

function shortUrl (url: string): string {
  if (url === '') return '(native)'
  const p = url.startsWith('file://') ? new URL(url).pathname : url
  const rel = path.relative(REPO_ROOT, p)
  return rel.startsWith('..') ? p : rel
}

export async function summarizeProfile (file: string, top = 15): Promise<ProfileSummary> {
  const prof = JSON.parse(await readFile(file, 'utf8')) as CpuProfile
  const byId = new Map(prof.nodes.map(n => [n.id, n]))
  const selfUs = new Map<number, number>()
  for (let i = 0; i < prof.samples.length; i++) {
    const id = prof.samples[i]
    selfUs.set(id, (selfUs.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0))
  }
  const fns = new Map<string, number>()
  const files = new Map<string, number>()
  let total = 0
  for (const [id, us] of selfUs) {
    const n = byId.get(id)
    if (n === undefined) continue
    const { functionName, url, lineNumber } = n.callFrame
    const special = functionName.startsWith('(') && url === ''
    const fileName = special ? functionName : shortUrl(url)
    const fnName = special ? functionName : `${functionName === '' ? '(anonymous)' : functionName} (${fileName}:${lineNumber + 1})`
    fns.set(fnName, (fns.get(fnName) ?? 0) + us)
    files.set(fileName, (files.get(fileName) ?? 0) + us)
    total += us
  }
  const rank = (m: Map<string, number>): ProfileSummary['functions'] =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top)
      .map(([name, us]) => ({ name, ms: Math.round(us / 1000), share: total === 0 ? 0 : us / total }))
  return { file, totalMs: Math.round(total / 1000), functions: rank(fns), files: rank(files) }
}

/** Summaries of every `.cpuprofile` in `dir` (one per process). */
export async function summarizeDir (dir: string, top = 15): Promise<ProfileSummary[]> {
  let names: string[]
  try { names = (await readdir(dir)).filter(n => n.endsWith('.cpuprofile')).sort() } catch { return [] }
  return Promise.all(names.map(n => summarizeProfile(path.join(dir, n), top)))
}

export function formatSummary (s: ProfileSummary, top = 12): string {
  const lines = [`profile ${path.relative(process.cwd(), s.file)}: ${s.totalMs} ms sampled`]
  lines.push('  self time by file:')
  for (const f of s.files.slice(0, top)) lines.push(`    ${(f.share * 100).toFixed(1).padStart(5)}%  ${String(f.ms).padStart(7)} ms  ${f.name}`)
  lines.push('  self time by function:')
  for (const f of s.functions.slice(0, top)) lines.push(`    ${(f.share * 100).toFixed(1).padStart(5)}%  ${String(f.ms).padStart(7)} ms  ${f.name}`)
  return lines.join('\n')
}

if (import.meta.main) {
  const [file, top] = process.argv.slice(2)
  if (file === undefined) {
    process.stderr.write('usage: node scripts/bench/profile.ts FILE.cpuprofile [TOP]\n')
    process.exit(2)
  }
  const n = top === undefined ? 20 : Number(top)
  process.stdout.write(formatSummary(await summarizeProfile(file, n), n) + '\n')
}
