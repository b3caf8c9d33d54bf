import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const BIN = join(ROOT, 'bin', 'drcore.js')

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs the real CLI in a child process (the same Node that runs the tests). */
export async function drcore (args: string[], opts: { env?: Record<string, string>, input?: string, timeoutMs?: number, uid?: number, gid?: number } = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env }
  // under npm run coverage, another user could not write to the run's coverage folder (and would say so on
  // stderr); empty, not deleted: spawn puts a missing NODE_V8_COVERAGE back
  if (opts.uid != null && opts.uid !== process.getuid?.() && env.NODE_V8_COVERAGE != null) env.NODE_V8_COVERAGE = ''
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      uid: opts.uid,
      gid: opts.gid
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', d => { stdout += d })
    child.stderr.on('data', d => { stderr += d })
    const timer = setTimeout(() => { child.kill('SIGKILL') }, opts.timeoutMs ?? 120_000)
    child.on('error', reject)
    child.on('close', code => {
      clearTimeout(timer)
      resolve({ code: code ?? -1, stdout, stderr })
    })
    child.stdin.end(opts.input ?? '')
  })
}

/** Runs the CLI with --json and parses stdout; fails with stderr when the exit code is not `expect`. */
export async function drcoreJson (args: string[], expect = 0): Promise<any> {
  const r = await drcore([...args, '--json'])
  if (r.code !== expect) throw new Error(`drcore ${args.join(' ')} exited ${r.code} (expected ${expect}): ${r.stderr}`)
  return JSON.parse(r.stdout)
}

export async function tempDir (prefix = 'drcore-test-'): Promise<string> {
  return await mkdtemp(join(tmpdir(), prefix))
}

export async function removeDir (dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
}

export interface RunningCore {
  repo: string
  process: ChildProcess
  output: () => string
  stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

/** Starts `drcore start` on a repository and waits until its API answers. */
export async function startCore (repo: string): Promise<RunningCore> {
  const child = spawn(process.execPath, [BIN, 'start', '--repo', repo], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', d => { out += d })
  child.stderr!.on('data', d => { out += d })
  const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`drcore start did not come up: ${out}`)), 30_000)
    const check = (): void => {
      if (out.includes('API http')) { clearTimeout(timer); resolve() }
    }
    child.stdout!.on('data', check)
    exited.then(code => { clearTimeout(timer); reject(new Error(`drcore start exited ${code}: ${out}`)) })
  })
  return {
    repo,
    process: child,
    output: () => out,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode == null && child.signalCode == null) child.kill(signal)
      return await exited
    }
  }
}
