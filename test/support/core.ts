/**
 * Test support for in-process Cores, built by the code the daemon runs: `openServices` opens the
 * repository's stores once and `OnlineCore.start` starts the network on them, with explicit
 * options (127.0.0.1, a port kept across restarts, relaxed pairing limits, engine tunables).
 * Tests back up, pair, replicate, stop and restart Cores that talk to each other for real, and
 * drive them through the operations a user runs (`run('ruleAdd')`, `run('ruleNow')` ...).
 * Real daemons are in daemon.ts.
 */
import { join } from 'node:path'
import { OfflineCore, OnlineCore, closeServices, openServices } from '../../src/core/index.ts'
import type { NetworkOptions } from '../../src/core/index.ts'
import type { PeerRef } from '../../src/api/peer-ref.ts'
import type { ProgressFn } from '../../src/api/operations.ts'
import type { BackupResult } from '../../src/backup/index.ts'
import type { AnyEventType, CoreEvent, CoreEventOf } from '../../src/events/api.ts'
import type { PeerInfo } from '../../src/peers/index.ts'
import type { EngineOptions, RuleRow } from '../../src/replication/api.ts'
import { initRepository } from '../../src/repo/index.ts'
import type { JobResult, RuleRecord } from '../../src/rules/index.ts'
import { removeDir, tempDir } from './dirs.ts'

/** Generous enough that only the rate-limit tests meet the pairing limits (every test Core is 127.0.0.1). */
export const RELAXED = { limit: 1000, intervalMs: 1000 }

/**
 * A cron schedule that does not fire during a test (1 January, 00:00): the scheduler runs no
 * job of such a rule by itself, so each job is one the test asks for (`replication now`) and its
 * result is the test's to check.
 */
export const ON_DEMAND = '0 0 1 1 *'

/** A new repository at `dir` for a Core named `name`, as `drcore init` makes it, listening on 127.0.0.1. */
export async function newRepository (dir: string, name: string): Promise<string> {
  await initRepository(dir, { name, listen: ['/ip4/127.0.0.1/tcp/0'], apiPort: 0 })
  return dir
}

/** A new repository opened as a Core without the network, as the CLI opens it when no daemon runs. */
export async function openOfflineCore (name: string, parent: string): Promise<OfflineCore> {
  return await OfflineCore.open(await newRepository(join(parent, name), name))
}

/** The events a Core emitted (live-only ones too), across restarts. */
export class EventRecorder {
  readonly all: CoreEvent[] = []

  ofType<T extends AnyEventType> (type: T): Array<CoreEventOf<T>> {
    return this.all.filter((e): e is CoreEventOf<T> & CoreEvent => e.type === type)
  }
}

export interface TestCoreOptions {
  engine?: EngineOptions
  pairing?: NetworkOptions['pairing']
  retryDelays?: number[]
}

/** What `replication now` answers when it waited for the job. */
export type NowResult = JobResult & { machine: string, to: PeerRef, started: true }

/** Options of `replication add` (the schedule defaults to ON_DEMAND here). */
export interface RuleOptions {
  schedule?: string
  window?: string
  paused?: boolean
  seedDrive?: boolean
  /** e.g. `4M` (bytes per second) */
  limit?: string
  /** `--streams N`: streams that carry a point's blocks at once */
  streams?: number
}

/** An in-process Core running the network, in a repository of its own under a temporary directory. */
export class TestCore {
  readonly name: string
  readonly repo: string
  readonly options: TestCoreOptions
  /** the temporary directory `create` made for the repository: `destroy` removes it */
  readonly #owned: string | undefined
  readonly events = new EventRecorder()
  #core: OnlineCore | undefined
  #unsubscribe: (() => void) | undefined
  #peerId: string | undefined
  /** the port of the first start, kept across restarts so peers can dial the same address */
  #port = 0

  private constructor (name: string, repo: string, owned: string | undefined, options: TestCoreOptions) {
    this.name = name
    this.repo = repo
    this.#owned = owned
    this.options = options
  }

  /** A new repository in a temporary directory, and the Core running on it. */
  static async create (name: string, options: TestCoreOptions = {}): Promise<TestCore> {
    const dir = await tempDir(`drcore-core-${name}-`)
    const core = new TestCore(name, await newRepository(join(dir, 'repo'), name), dir, options)
    await core.start()
    return core
  }

  /** The Core running on an existing repository (which `destroy` leaves in place). */
  static async open (repo: string, name: string, options: TestCoreOptions = {}): Promise<TestCore> {
    const core = new TestCore(name, repo, undefined, options)
    await core.start()
    return core
  }

  /** The running Core (between `start` and `stop`). */
  get core (): OnlineCore {
    if (this.#core === undefined) throw new Error(`${this.name} is not running`)
    return this.#core
  }

  /** Its peer id (also while it is stopped). */
  get peerId (): string {
    if (this.#peerId === undefined) throw new Error(`${this.name} never started`)
    return this.#peerId
  }

  get node (): OnlineCore['node'] {
    return this.core.node
  }

  get pairing (): OnlineCore['pairing'] {
    return this.core.pairing
  }

  get engine (): OnlineCore['engine'] {
    return this.core.engine
  }

  /** The address to give `peer add`. */
  get address (): string {
    return this.node.addresses()[0]
  }

  /** Opens the repository and starts the network on it, as the daemon does (again, after `stop`). */
  async start (): Promise<void> {
    const services = await openServices(this.repo)
    try {
      this.#core = await OnlineCore.start(services, {
        listen: [`/ip4/127.0.0.1/tcp/${this.#port}`],
        engine: this.options.engine,
        pairing: { perPeer: RELAXED, perAddress: RELAXED, ...this.options.pairing },
        retryDelays: this.options.retryDelays
      })
    } catch (err) {
      await closeServices(services)
      throw err
    }
    this.#unsubscribe = this.#core.events.subscribe(e => { this.events.all.push(e) })
    this.#peerId = this.#core.peerId
    this.#port = Number(this.address.split('/')[4])
  }

  /** Stops the network and closes the repository; the directory stays for `start`. */
  async stop (): Promise<void> {
    const core = this.#core
    if (core === undefined) return
    this.#core = undefined
    this.#unsubscribe?.()
    await core.close()
  }

  async destroy (): Promise<void> {
    await this.stop()
    if (this.#owned !== undefined) await removeDir(this.#owned)
  }

  /** Runs an operation, as the CLI or the API would. */
  async run (name: Parameters<OnlineCore['run']>[0], input: Record<string, unknown> = {}, onProgress?: ProgressFn): Promise<any> {
    return await this.core.run(name, input, onProgress)
  }

  async backup (machine: string, path: string, options: { cluster?: string } = {}): Promise<BackupResult> {
    return await this.run('backup', { machine, volumes: [{ name: 'data', path }], cluster: options.cluster })
  }

  /** `replication add MACHINE --to OTHER` (by default ON_DEMAND: jobs run when the test says). */
  async addRule (machine: string, to: TestCore, options: RuleOptions = {}): Promise<RuleRow> {
    return await this.run('ruleAdd', { machine, to: to.peerId, schedule: ON_DEMAND, ...options })
  }

  /** `replication now MACHINE --to OTHER`: one job of the rule, and what it did. */
  async replicateNow (machine: string, to: TestCore, onProgress?: ProgressFn): Promise<NowResult> {
    return await this.run('ruleNow', { machine, to: to.peerId }, onProgress)
  }

  /** The rule sending `machine` to `to`, as `replication list` shows it. */
  async rule (machine: string, to: TestCore): Promise<RuleRow> {
    const row = (await this.run('rules') as RuleRow[]).find(r => r.machine === machine && r.to.peerId === to.peerId)
    if (row === undefined) throw new Error(`${this.name} has no rule sending ${machine} to ${to.name}`)
    return row
  }

  /** This Core's view of `other`, as `peer list --json` prints it. */
  view (other: TestCore): PeerInfo | undefined {
    return this.pairing.list().find(p => p.peerId === other.peerId)
  }

  /** The stored size of the repository's blocks. */
  async storedBlocks (): Promise<{ blocks: number, rawBytes: number }> {
    const stats = await this.core.store.stats()
    return { blocks: stats.blocks, rawBytes: stats.rawBytes }
  }
}

/**
 * `target` allows `source` (into `tenant`, by default the source's name), and `source` sends
 * its pairing request: source may send to target.
 */
export async function pair (source: TestCore, target: TestCore, options: { tenant?: string } = {}): Promise<void> {
  await target.run('peerAllow', { peerId: source.peerId, name: source.name, tenant: options.tenant })
  const info = await source.run('peerAdd', { address: target.address, name: target.name }) as PeerInfo
  if (!info.canSendTo) throw new Error(`${source.name} cannot send to ${target.name} after pairing: ${JSON.stringify(info)}`)
}

/** A rule record as the scheduler hands it to the engine: for the tests of the engine's internals. */
export function rule (machine: string, to: TestCore | string, overrides: Partial<RuleRecord> = {}): RuleRecord {
  return {
    machine,
    to: typeof to === 'string' ? to : to.peerId,
    schedule: 'after-backup',
    window: null,
    paused: false,
    seedDrive: false,
    seedPoints: [],
    seedState: null,
    limit: null,
    createdAt: new Date().toISOString(),
    state: 'idle',
    lastPoint: null,
    bytesSent: 0,
    error: null,
    lastRunAt: null,
    lastSuccessAt: null,
    ...overrides
  }
}
