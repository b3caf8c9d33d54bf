/**
 * Test support for real Cores: the `drcore` CLI in a child process, and `drcore start` daemons
 * driven through the CLI and their HTTP API (the operations the CLI calls; a CLI process costs
 * seconds on a loaded machine, an API call does not). End-to-end tests and the benchmarks use
 * it; in-process Cores are in core.ts.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { HttpCoreClient } from '../../src/api/client.ts'
import type { OperationName } from '../../src/api/operations.ts'
import { readDaemonInfo } from '../../src/cli/connect.ts'
import { freePort, waitFor } from './wait.ts'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const BIN = join(ROOT, 'bin', 'drcore.js')

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

export interface CliOptions {
  env?: Record<string, string>
  input?: string
  /** killed after this long (default 120 s) */
  timeoutMs?: number
  uid?: number
  gid?: number
  /** run it in this network namespace (`ip netns exec`) */
  ns?: string | null
}

/** Runs the real CLI in a child process (the same Node that runs the tests). */
export async function drcore (args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env }
  // under npm run coverage, another user could not write to the run's coverage folder (and would say so on
  // stderr); empty, not deleted: spawn puts a missing NODE_V8_COVERAGE back
  if (opts.uid != null && opts.uid !== process.getuid?.() && env.NODE_V8_COVERAGE != null) env.NODE_V8_COVERAGE = ''
  return await new Promise((resolve, reject) => {
    const [cmd, argv] = inNamespace(opts.ns ?? null, process.execPath, [BIN, ...args])
    const child = spawn(cmd, argv, {
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

/** `cmd args` as run in network namespace `ns` (null: this one). */
export function inNamespace (ns: string | null, cmd: string, args: string[]): [string, string[]] {
  return ns === null ? [cmd, args] : ['ip', ['netns', 'exec', ns, cmd, ...args]]
}

/** Told of every daemon process started and ended (a benchmark kills leftovers by pid). */
export interface ProcessTracker {
  started (pid: number | undefined): void
  ended (pid: number | undefined): void
}

/** A running `drcore start`. */
export interface RunningCore {
  repo: string
  process: ChildProcess
  /** everything it printed so far (stdout and stderr; the last 100,000 characters of a long run) */
  output: () => string
  /** SIGTERM: a clean stop; SIGKILL: a crash. Resolves with the exit code. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

/** Starts `drcore start` on a repository and waits until its API answers. */
export async function startCore (repo: string, options: { env?: Record<string, string>, ns?: string | null, track?: ProcessTracker, timeoutMs?: number, name?: string, args?: string[] } = {}): Promise<RunningCore> {
  const name = options.name ?? 'drcore start'
  const [cmd, argv] = inNamespace(options.ns ?? null, process.execPath, [BIN, 'start', '--repo', repo, ...options.args ?? []])
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } })
  options.track?.started(child.pid)
  let out = ''
  const collect = (d: Buffer): void => {
    out += d.toString()
    if (out.length > 200_000) out = out.slice(-100_000)
  }
  child.stdout!.on('data', collect)
  child.stderr!.on('data', collect)
  const exited = new Promise<number | null>(resolve => child.on('exit', code => {
    options.track?.ended(child.pid)
    resolve(code)
  }))
  await new Promise<void>((resolve, reject) => {
    const timeoutMs = options.timeoutMs ?? 60_000
    const timer = setTimeout(() => reject(new Error(`${name}: did not come up in ${timeoutMs / 1000} s: ${out.slice(-2000)}`)), timeoutMs)
    const check = (): void => { if (out.includes('API http')) { clearTimeout(timer); resolve() } }
    child.stdout!.on('data', check)
    void exited.then(code => { clearTimeout(timer); reject(new Error(`${name}: exited ${code}: ${out.slice(-2000)}`)) })
  })
  return {
    repo,
    process: child,
    output: () => out,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode == null && child.signalCode == null) child.kill(signal)
      // a daemon that does not stop within 30 s is killed, so that no test leaves one behind
      const timer = setTimeout(() => { if (child.exitCode == null && child.signalCode == null) child.kill('SIGKILL') }, 30_000)
      try {
        return await exited
      } finally {
        clearTimeout(timer)
      }
    }
  }
}

export interface DaemonCoreOptions {
  /** run the daemon and its CLI in this network namespace (benchmarks); the API is then not reachable from here */
  ns?: string | null
  /** the address it listens on (default 127.0.0.1) and its port (default a free one) */
  ip?: string
  port?: number
  track?: ProcessTracker
}

/**
 * A Core as a real `drcore start` daemon, on a fixed port (so a restarted Core is found where it
 * was), driven through the real CLI and, when it runs here, its HTTP API.
 */
export class DaemonCore {
  readonly name: string
  readonly repo: string
  readonly peerId: string
  /** where other Cores reach it (`drcore peer add`) */
  readonly address: string
  readonly ns: string | null
  readonly #track: ProcessTracker | undefined
  #running: RunningCore | undefined
  #client: HttpCoreClient | undefined

  private constructor (name: string, repo: string, peerId: string, address: string, options: DaemonCoreOptions) {
    this.name = name
    this.repo = repo
    this.peerId = peerId
    this.address = address
    this.ns = options.ns ?? null
    this.#track = options.track
  }

  /** `drcore init` of a repository named `name` under `work`. */
  static async init (work: string, name: string, options: DaemonCoreOptions = {}): Promise<DaemonCore> {
    const repo = join(work, name)
    const listen = `/ip4/${options.ip ?? '127.0.0.1'}/tcp/${options.port ?? await freePort()}`
    const r = await drcore(['init', '--repo', repo, '--name', name, '--listen', listen, '--api-port', '0', '--json'])
    if (r.code !== 0) throw new Error(`drcore init ${name} exited ${r.code}: ${r.stderr}`)
    const { peerId } = JSON.parse(r.stdout) as { peerId: string }
    return new DaemonCore(name, repo, peerId, `${listen}/p2p/${peerId}`, options)
  }

  /** The TCP port it listens on. */
  get port (): number {
    return Number(this.address.split('/')[4])
  }

  get running (): boolean {
    const child = this.#running?.process
    return child != null && child.exitCode == null && child.signalCode == null
  }

  get pid (): number | undefined {
    return this.#running?.process.pid
  }

  /** Everything the daemon printed (stdout and stderr). */
  get output (): string {
    return this.#running?.output() ?? ''
  }

  /** `drcore start`, until its API answers. */
  async start (env: Record<string, string> = {}, timeoutMs = 60_000): Promise<void> {
    this.#running = await startCore(this.repo, { env, ns: this.ns, track: this.#track, timeoutMs, name: `${this.name}: drcore start` })
    if (this.ns !== null) return
    const info = await readDaemonInfo(this.repo)
    if (info == null) throw new Error(`${this.name}: no daemon.json after start`)
    this.#client = new HttpCoreClient(info)
  }

  /** Stops the daemon (SIGTERM: a clean stop; SIGKILL: a crash) and returns its exit code. */
  async stop (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const running = this.#running
    if (running == null) return null
    this.#client = undefined
    const code = await running.stop(signal)
    this.#running = undefined
    return code
  }

  /** The real CLI on this repository (in the Core's namespace, so that it reaches the daemon). */
  async cli (args: string[], opts: Omit<CliOptions, 'ns'> = {}): Promise<CliResult> {
    return await drcore([...args, '--repo', this.repo], { ...opts, ns: this.ns })
  }

  /** The real CLI with `--json`; throws with stderr unless it exits with `expect` (or one of them). */
  async json<T = any> (args: string[], expect: number | number[] = 0): Promise<T> {
    const r = await this.cli([...args, '--json'])
    if (!(Array.isArray(expect) ? expect : [expect]).includes(r.code)) {
      throw new Error(`${this.name}: drcore ${args.join(' ')} exited ${r.code} (expected ${String(expect)}): ${r.stderr.trim().split('\n').slice(-15).join('\n')}`)
    }
    return JSON.parse(r.stdout) as T
  }

  /** An operation through the running daemon's API (not for a daemon in another namespace). */
  async api (name: OperationName, input: Record<string, unknown> = {}): Promise<any> {
    if (this.#client == null) throw new Error(`${this.name}: no API client (not running, or in another namespace)`)
    return await this.#client.call(name, input)
  }

  /** Events of this Core of the given type, oldest first. */
  async events (type: string): Promise<any[]> {
    return (await this.api('events', { limit: 10_000 })).filter((e: any) => e.type === type)
  }

  /** This Core's rule sending `machine` to `to`, as `replication list --json` shows it. */
  async rule (machine: string, to: DaemonCore): Promise<any> {
    const rule = (await this.api('rules')).find((r: any) => r.machine === machine && r.to.peerId === to.peerId)
    if (rule == null) throw new Error(`${this.name} has no rule sending ${machine} to ${to.name}`)
    return rule
  }

  /** The Core's points of `machine` (none when it has no such machine). */
  async points (machine: string): Promise<Array<{ point: string, complete: boolean }>> {
    const machines = this.#client != null ? await this.api('machines') : await this.json(['machines'])
    if (!(machines as Array<{ machine: string }>).some(m => m.machine === machine)) return []
    return this.#client != null ? await this.api('points', { machine }) : await this.json(['points', machine])
  }

  /**
   * Pairs (through the API, or the CLI for a daemon in another namespace): this Core asks
   * `target`, which approved it beforehand (into `tenant`, default this Core's name), and waits
   * until this Core has heard the approval.
   */
  async pairWith (target: DaemonCore, options: { tenant?: string, timeoutMs?: number } = {}): Promise<void> {
    const tenant = options.tenant ?? this.name
    if (target.#client != null) await target.api('peerAllow', { peerId: this.peerId, name: this.name, tenant })
    else await target.json(['peer', 'allow', this.peerId, '--name', this.name, '--tenant', tenant])
    if (this.#client != null) await this.api('peerAdd', { address: target.address, name: target.name })
    else await this.json(['peer', 'add', target.address, '--name', target.name])
    await waitFor(`${target.name} to approve ${this.name}`,
      async () => this.#client != null ? await this.api('peers') : await this.json(['peer', 'list']),
      (peers: Array<{ peerId: string, canSendTo: boolean }>) => peers.some(p => p.peerId === target.peerId && p.canSendTo), options.timeoutMs ?? 60_000, this.#client != null ? 200 : 500)
  }
}
