/**
 * Test support for crashes of real processes: run the CLI, and kill -9 it at a moment the test
 * chooses (once `ready()` holds, e.g. once the repository's packs have grown), never after it
 * finished. A kill test that could pass with the operation already done proves nothing, so a
 * process that exits before the kill fails the test.
 */
import { spawn } from 'node:child_process'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { BIN } from '../support/daemon.ts'

export interface Killed {
  /** how long the process ran */
  ms: number
  stdout: string
  stderr: string
}

/**
 * Runs `drcore ...args`, polls `ready` every 20 ms, and sends SIGKILL once it returns true.
 * Resolves when the process has died of that SIGKILL; rejects when it exited on its own first
 * (the operation finished, or failed, before the kill could land), or when `ready` did not
 * hold within `timeoutMs`.
 */
export async function killWhen (args: string[], ready: () => Promise<boolean>, options: { what: string, timeoutMs?: number, env?: Record<string, string> }): Promise<Killed> {
  const started = performance.now()
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', d => { stdout += d })
  child.stderr.on('data', d => { stderr += d })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.on('exit', (code, signal) => resolve({ code, signal })))
  const running = (): boolean => child.exitCode === null && child.signalCode === null
  const deadline = Date.now() + (options.timeoutMs ?? 120_000)
  let killed = false
  try {
    while (running()) {
      // the process may exit while `ready` looks: then the kill comes too late, and the exit
      // status below says so
      if (await ready().catch(() => false)) {
        killed = running() && child.kill('SIGKILL')
        break
      }
      if (Date.now() > deadline) throw new Error(`${options.what}: the moment to kill never came within ${options.timeoutMs ?? 120_000} ms`)
      await new Promise(resolve => setTimeout(resolve, 20))
    }
  } finally {
    if (!killed && running()) child.kill('SIGKILL')
  }
  const { code, signal } = await exited
  if (!killed || signal !== 'SIGKILL') {
    throw new Error(`${options.what}: the process ended on its own (exit ${code}, signal ${signal}) before the kill, so the kill did not land mid-operation; stderr: ${stderr.trim()}`)
  }
  return { ms: performance.now() - started, stdout, stderr }
}

/** Bytes of the regular files directly in `dir` (0 when it does not exist yet). */
export async function bytesIn (dir: string, filter: (name: string) => boolean = () => true): Promise<number> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return 0
  }
  let total = 0
  for (const name of names.filter(filter)) total += await stat(join(dir, name)).then(s => s.isFile() ? s.size : 0, () => 0)
  return total
}
