/**
 * Test support for end-to-end replication: Cores as real `drcore start` processes on 127.0.0.1,
 * each on a fixed port (so a restarted Core is found where it was), driven through the real CLI.
 * Setup and polling go through the daemon's HTTP API (the same operations the CLI calls), since
 * a CLI process costs seconds on a loaded machine.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { HttpCoreClient } from '../../src/api/client.ts'
import type { OperationName } from '../../src/api/operations.ts'
import { readDaemonInfo } from '../../src/cli/connect.ts'
import { BIN, drcore } from './cli.ts'
import type { CliResult } from './cli.ts'

/** A port nobody listens on right now. */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** Polls `probe` until `done` holds for its value (every 200 ms, up to `ms`); returns that value. */
export async function waitFor<T> (what: string, probe: () => Promise<T>, done: (value: T) => boolean, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms
  let last: T | undefined
  let lastError: unknown
  for (;;) {
    try {
      last = await probe()
      if (done(last)) return last
    } catch (err) {
      lastError = err
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}${lastError != null ? `; error: ${String(lastError)}` : ''}`)
    }
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

export class TestCore {
  readonly name: string
  readonly repo: string
  readonly port: number
  readonly peerId: string
  #child: ChildProcess | undefined
  #exited: Promise<number | null> | undefined
  #output = ''
  #client: HttpCoreClient | undefined

  private constructor (name: string, repo: string, port: number, peerId: string) {
    this.name = name
    this.repo = repo
    this.port = port
    this.peerId = peerId
  }

  /** `drcore init` of a repository named `name` under `work`. */
  static async init (work: string, name: string): Promise<TestCore> {
    const repo = join(work, name)
    const port = await freePort()
    const r = await drcore(['init', '--repo', repo, '--name', name, '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--api-port', '0', '--json'])
    if (r.code !== 0) throw new Error(`drcore init ${name} exited ${r.code}: ${r.stderr}`)
    return new TestCore(name, repo, port, JSON.parse(r.stdout).peerId)
  }

  /** Where other Cores reach it (`drcore peer add`). */
  get address (): string {
    return `/ip4/127.0.0.1/tcp/${this.port}/p2p/${this.peerId}`
  }

  get running (): boolean {
    return this.#child != null && this.#child.exitCode == null && this.#child.signalCode == null
  }

  /** Everything the daemon printed (stdout and stderr). */
  get output (): string {
    return this.#output
  }

  /** `drcore start`, until its API answers. */
  async start (env: Record<string, string> = {}): Promise<void> {
    const child = spawn(process.execPath, [BIN, 'start', '--repo', this.repo], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
    this.#child = child
    this.#exited = new Promise(resolve => child.on('exit', code => resolve(code)))
    child.stdout!.on('data', d => { this.#output += d })
    child.stderr!.on('data', d => { this.#output += d })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: drcore start did not come up: ${this.#output}`)), 60_000)
      const check = (): void => { if (this.#output.includes('API http')) { clearTimeout(timer); resolve() } }
      child.stdout!.on('data', check)
      void this.#exited!.then(code => { clearTimeout(timer); reject(new Error(`${this.name}: drcore start exited ${code}: ${this.#output}`)) })
    })
    const info = await readDaemonInfo(this.repo)
    if (info == null) throw new Error(`${this.name}: no daemon.json after start`)
    this.#client = new HttpCoreClient(info)
  }

  /** Stops the daemon (SIGTERM: a clean stop; SIGKILL: a crash) and returns its exit code. */
  async stop (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.#child == null) return null
    if (this.running) this.#child.kill(signal)
    const code = (await this.#exited) ?? null
    this.#child = undefined
    this.#client = undefined
    return code
  }

  /** The real CLI on this repository. */
  async cli (args: string[], opts: { timeoutMs?: number } = {}): Promise<CliResult> {
    return await drcore([...args, '--repo', this.repo], opts)
  }

  /** The real CLI with `--json`; throws with stderr unless it exits `expect`. */
  async json (args: string[], expect = 0): Promise<any> {
    const r = await this.cli([...args, '--json'])
    if (r.code !== expect) throw new Error(`${this.name}: drcore ${args.join(' ')} exited ${r.code} (expected ${expect}): ${r.stderr}`)
    return JSON.parse(r.stdout)
  }

  /** An operation through the running daemon's API. */
  async api (name: OperationName, input: Record<string, unknown> = {}): Promise<any> {
    if (this.#client == null) throw new Error(`${this.name} is not running`)
    return await this.#client.call(name, input)
  }

  /** Events of this Core of the given type, oldest first. */
  async events (type: string): Promise<any[]> {
    return (await this.api('events', { limit: 10_000 })).filter((e: any) => e.type === type)
  }

  /** This Core's rule sending `machine` to `to`, as `replication list --json` shows it. */
  async rule (machine: string, to: TestCore): Promise<any> {
    const rule = (await this.api('rules')).find((r: any) => r.machine === machine && r.to === to.peerId)
    if (rule == null) throw new Error(`${this.name} has no rule sending ${machine} to ${to.name}`)
    return rule
  }

  /**
   * Pairs through the API: this Core asks `target`, which approves it (into `tenant`), and waits
   * until this Core has heard the approval.
   */
  async pairWith (target: TestCore, options: { tenant?: string } = {}): Promise<void> {
    await target.api('peerAllow', { peerId: this.peerId, name: this.name, tenant: options.tenant ?? this.name })
    await this.api('peerAdd', { address: target.address, name: target.name })
    await waitFor(`${target.name} to approve ${this.name}`, async () => await this.api('peers'),
      (peers: any[]) => peers.some(p => p.peerId === target.peerId && p.canSendTo === true))
  }
}
