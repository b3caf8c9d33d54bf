/**
 * Benchmark support for the replication and seed sections: drcore Cores as real `drcore start`
 * daemons (on 127.0.0.1, or inside a network namespace: the tests' `DaemonCore`,
 * test/support/daemon.ts), two network namespaces joined by a veth pair whose interface byte
 * counters count traffic outside the processes, and an rsync daemon.
 *
 * Everything started here is tracked and stopped by its pid, and every namespace made here is
 * deleted, also when the harness exits on an error or a signal (`Cleanup`).
 */
import { execFileSync, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { DaemonCore, inNamespace } from '../../test/support/daemon.ts'
import type { CliResult, ProcessTracker } from '../../test/support/daemon.ts'
import { waitFor } from '../../test/support/wait.ts'
import { resetDir, run } from './lib.ts'
import type { RunResult } from './lib.ts'

// ---------------------------------------------------------------------------------------------
// Cleanup: processes by pid, namespaces by name

export class Cleanup implements ProcessTracker {
  readonly #pids = new Set<number>()
  readonly #namespaces = new Set<string>()
  readonly #onExit = (): void => { this.now() }

  constructor () {
    process.on('exit', this.#onExit)
  }

  started (pid: number | undefined): void { if (pid !== undefined) this.#pids.add(pid) }
  ended (pid: number | undefined): void { if (pid !== undefined) this.#pids.delete(pid) }
  namespace (name: string): void { this.#namespaces.add(name) }

  /** Synchronous, so that it also runs from a process 'exit' handler. */
  now (): void {
    for (const pid of this.#pids) {
      try { process.kill(pid, 'SIGKILL') } catch {}
    }
    this.#pids.clear()
    for (const ns of this.#namespaces) {
      try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }) } catch {}
    }
    this.#namespaces.clear()
  }

  dispose (): void {
    this.now()
    process.off('exit', this.#onExit)
  }
}

/** Spawns a long-running process, collects its output, and tracks it for cleanup. */
function daemon (cleanup: Cleanup, cmd: string, args: string[]): { child: ChildProcess, output: () => string, exited: Promise<number | null> } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  cleanup.started(child.pid)
  let out = ''
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); if (out.length > 200_000) out = out.slice(-100_000) })
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); if (out.length > 200_000) out = out.slice(-100_000) })
  const exited = new Promise<number | null>(resolve => child.on('exit', code => { cleanup.ended(child.pid); resolve(code) }))
  return { child, output: () => out, exited }
}

// ---------------------------------------------------------------------------------------------
// Network namespaces joined by a veth pair

export interface Counters { t: number, rx: number, tx: number }

/**
 * Two namespaces, `src` and `dst`, joined by a veth pair (`<ifSrc>` in src, `<ifDst>` in dst).
 * Nothing else is in them but their own loopback, so the veth's byte counters count exactly
 * the traffic between the two sides (Ethernet frames: TCP/IP headers included).
 */
export class NetPair {
  readonly src: string
  readonly dst: string
  readonly ifSrc = 'bench0'
  readonly ifDst = 'bench1'
  readonly ipSrc: string
  readonly ipDst: string
  readonly #cleanup: Cleanup
  /** a process parked in `src`: /proc/<pid>/net/dev shows that namespace's counters */
  #holder: ChildProcess | undefined

  constructor (cleanup: Cleanup, tag: string, subnet = '10.213.0') {
    this.#cleanup = cleanup
    this.src = `drbench-${tag}-src`
    this.dst = `drbench-${tag}-dst`
    this.ipSrc = `${subnet}.1`
    this.ipDst = `${subnet}.2`
  }

  async create (): Promise<void> {
    for (const ns of [this.src, this.dst]) {
      await run('ip', ['netns', 'del', ns], { okCodes: [1, 2, 255] }).catch(() => {})
      this.#cleanup.namespace(ns)
      await run('ip', ['netns', 'add', ns])
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
    }
    // made inside src directly, the peer end moved into dst: nothing appears in this namespace
    await run('ip', ['-n', this.src, 'link', 'add', this.ifSrc, 'type', 'veth', 'peer', 'name', this.ifDst, 'netns', this.dst])
    await run('ip', ['-n', this.src, 'addr', 'add', `${this.ipSrc}/24`, 'dev', this.ifSrc])
    await run('ip', ['-n', this.dst, 'addr', 'add', `${this.ipDst}/24`, 'dev', this.ifDst])
    await run('ip', ['-n', this.src, 'link', 'set', this.ifSrc, 'up'])
    await run('ip', ['-n', this.dst, 'link', 'set', this.ifDst, 'up'])
    const holder = spawn('ip', ['netns', 'exec', this.src, 'sleep', 'infinity'], { stdio: 'ignore' })
    this.#cleanup.started(holder.pid)
    this.#holder = holder
    await waitFor('the counter holder in the namespace', async () => readFileSync(`/proc/${holder.pid}/net/dev`, 'utf8'),
      text => text.includes(`${this.ifSrc}:`), 10_000, 20)
  }

  /** Byte counters of the src end (rx + tx = both directions), read without spawning anything. */
  counters (): Counters {
    const text = readFileSync(`/proc/${this.#holder!.pid}/net/dev`, 'utf8')
    const line = text.split('\n').find(l => l.trim().startsWith(`${this.ifSrc}:`))
    if (line === undefined) throw new Error(`no ${this.ifSrc} in /proc/${this.#holder!.pid}/net/dev`)
    const f = line.split(':')[1].trim().split(/\s+/).map(Number)
    return { t: performance.now(), rx: f[0], tx: f[8] }
  }

  /** `tc tbf` on the src end: the shaped direction is src -> dst. */
  async shape (rate: string, burst: string, latency: string): Promise<void> {
    await run('tc', ['-n', this.src, 'qdisc', 'add', 'dev', this.ifSrc, 'root', 'tbf', 'rate', rate, 'burst', burst, 'latency', latency])
  }

  async unshape (): Promise<void> {
    await run('tc', ['-n', this.src, 'qdisc', 'del', 'dev', this.ifSrc, 'root'], { okCodes: [2] })
  }

  async qdisc (): Promise<string> {
    return (await run('tc', ['-n', this.src, '-s', 'qdisc', 'show', 'dev', this.ifSrc])).stdout.trim()
  }

  destroy (): void {
    if (this.#holder?.pid !== undefined) {
      try { process.kill(this.#holder.pid, 'SIGKILL') } catch {}
      this.#cleanup.ended(this.#holder.pid)
    }
    for (const ns of [this.src, this.dst]) {
      try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }) } catch {}
    }
  }
}

/** Samples counters every `everyMs` until stopped. */
export class Sampler {
  readonly samples: Counters[] = []
  #timer: NodeJS.Timeout | undefined

  constructor (net: NetPair, everyMs = 100) {
    this.samples.push(net.counters())
    this.#timer = setInterval(() => { this.samples.push(net.counters()) }, everyMs)
  }

  stop (net: NetPair): Counters[] {
    clearInterval(this.#timer)
    this.samples.push(net.counters())
    return this.samples
  }
}

/**
 * The bulk part of a transfer in one direction (`tx` of the src end): from the last sample
 * before the counter had moved more than `slack` bytes to the first sample within `slack`
 * bytes of its final value. Returns the bytes and seconds between those samples.
 */
export function bulk (samples: Counters[], slack = 256 * 1024): { bytes: number, seconds: number, totalBytes: number } {
  const base = samples[0].tx
  const final = samples[samples.length - 1].tx
  let i0 = 0
  while (i0 + 1 < samples.length && samples[i0 + 1].tx - base <= slack) i0++
  let i1 = samples.length - 1
  while (i1 - 1 > i0 && final - samples[i1 - 1].tx <= slack) i1--
  return { bytes: samples[i1].tx - samples[i0].tx, seconds: (samples[i1].t - samples[i0].t) / 1000, totalBytes: final - base }
}

// ---------------------------------------------------------------------------------------------
// drcore Cores

/**
 * `drcore init` of a fresh repository `dir/name` listening on `ip:port` (127.0.0.1 and a free
 * port when `ns` is null), as a daemon the harness kills if it dies (`cleanup`).
 */
export async function benchCore (cleanup: Cleanup, dir: string, name: string, ns: string | null = null, ip = '127.0.0.1', port?: number): Promise<DaemonCore> {
  resetDir(path.join(dir, name))
  await mkdir(dir, { recursive: true })
  return await DaemonCore.init(dir, name, { ns, ip, port, track: cleanup })
}

/** `drcore start` of a benchmark Core: a loaded machine may take long to start one. */
export async function startBenchCore (core: DaemonCore): Promise<void> {
  await core.start({}, 120_000)
}

/** The real CLI on a benchmark Core; fails unless it exits 0 or with one of `okCodes`. */
export async function cli (core: DaemonCore, args: string[], okCodes: number[] = []): Promise<CliResult> {
  const r = await core.cli(args)
  if (r.code !== 0 && !okCodes.includes(r.code)) {
    throw new Error(`${core.name}: drcore ${args.join(' ')} exited ${r.code}\n${(r.stderr.trim() || r.stdout.trim()).split('\n').slice(-15).join('\n')}`)
  }
  return r
}

// ---------------------------------------------------------------------------------------------
// rsync daemon

export class RsyncDaemon {
  readonly url: string
  readonly #ns: string | null
  #proc: ReturnType<typeof daemon> | undefined

  private constructor (ns: string | null, url: string) {
    this.#ns = ns
    this.url = url
  }

  /**
   * `rsync --daemon --no-detach` with one writable module `m` at `root`, listening on
   * `address:port` (in `ns`). Destinations are `<url>/<subdir>/`.
   */
  static async start (cleanup: Cleanup, dir: string, root: string, ns: string | null, address: string, port: number): Promise<RsyncDaemon> {
    await mkdir(dir, { recursive: true })
    await mkdir(root, { recursive: true })
    const conf = path.join(dir, 'rsyncd.conf')
    writeFileSync(conf, [
      `pid file = ${path.join(dir, 'rsyncd.pid')}`,
      `log file = ${path.join(dir, 'rsyncd.log')}`,
      'use chroot = no',
      'max connections = 0',
      '',
      '[m]',
      `  path = ${root}`,
      '  read only = no',
      '  uid = root',
      '  gid = root',
      ''
    ].join('\n'))
    resetDir(path.join(dir, 'rsyncd.pid'))
    const d = new RsyncDaemon(ns, `rsync://${address}:${port}/m`)
    const [cmd, args] = inNamespace(ns, 'rsync', ['--daemon', '--no-detach', `--config=${conf}`, `--port=${port}`, `--address=${address}`])
    d.#proc = daemon(cleanup, cmd, args)
    await waitFor('the rsync daemon', async () => await d.rsync(['--list-only', `${d.url}/`]), () => true, 30_000, 100)
    return d
  }

  /** An rsync client in the daemon's namespace (the other side of the veth when `ns` is the src one). */
  async rsync (args: string[], ns: string | null = this.#ns): Promise<RunResult> {
    const [cmd, a] = inNamespace(ns, 'rsync', args)
    return await run(cmd, a)
  }

  async stop (): Promise<void> {
    const proc = this.#proc
    if (proc === undefined) return
    this.#proc = undefined
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGTERM')
    await proc.exited
  }
}
