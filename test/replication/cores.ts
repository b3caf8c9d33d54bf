/**
 * Test support: in-process Cores with real repositories (LevelDB, pack files), a libp2p node on
 * 127.0.0.1, the pairing service and the replication engine, so tests can back up, pair,
 * replicate, stop and restart Cores that talk to each other for real.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { OnlineCore, closeServices, openServices } from '../../src/core/index.ts'
import type { DrcoreNode } from '../../src/net/index.ts'
import type { PairingService } from '../../src/peers/index.ts'
import { initRepository } from '../../src/repo/index.ts'
import type { ReplicationEngine } from '../../src/replication/engine.ts'
import type { EngineOptions } from '../../src/replication/api.ts'
import type { RuleRecord } from '../../src/rules/index.ts'
import type { CoreEvent } from '../../src/events/api.ts'
import type { BackupResult } from '../../src/backup/index.ts'

const RELAXED = { limit: 1000, intervalMs: 1000 }

export class ReplCore {
  readonly name: string
  readonly dir: string
  readonly options: EngineOptions
  readonly events: CoreEvent[] = []
  core!: OnlineCore
  node!: DrcoreNode
  pairing!: PairingService
  engine!: ReplicationEngine
  #unsubscribe: (() => void) | undefined
  /** the port of the first start, kept across restarts so peers can dial the same address */
  #port = 0

  private constructor (name: string, dir: string, options: EngineOptions) {
    this.name = name
    this.dir = dir
    this.options = options
  }

  static async create (name: string, options: EngineOptions = {}): Promise<ReplCore> {
    const dir = await mkdtemp(join(tmpdir(), `drcore-repl-${name}-`))
    await initRepository(join(dir, 'repo'), { name, listen: ['/ip4/127.0.0.1/tcp/0'], apiPort: 0 })
    const core = new ReplCore(name, dir, options)
    await core.start()
    return core
  }

  get repo (): string {
    return join(this.dir, 'repo')
  }

  get peerId (): string {
    return this.core.peerId
  }

  get address (): string {
    return this.node.addresses()[0]
  }

  /** Opens the repository and starts the network on it, as the daemon does (again, after `stop`). */
  async start (): Promise<void> {
    const services = await openServices(this.repo)
    try {
      this.core = await OnlineCore.start(services, { listen: [`/ip4/127.0.0.1/tcp/${this.#port}`], engine: this.options, pairing: { perPeer: RELAXED, perAddress: RELAXED } })
    } catch (err) {
      await closeServices(services)
      throw err
    }
    this.#unsubscribe = this.core.events.subscribe(e => { this.events.push(e) })
    this.node = this.core.node
    this.pairing = this.core.pairing
    this.engine = this.core.engine
    this.#port = Number(this.address.split('/')[4])
  }

  async stop (): Promise<void> {
    this.#unsubscribe?.()
    await this.core.close()
  }

  async destroy (): Promise<void> {
    await this.stop()
    await rm(this.dir, { recursive: true, force: true })
  }

  async backup (machine: string, path: string, options: { cluster?: string } = {}): Promise<BackupResult> {
    return await this.core.run('backup', { machine, volumes: [{ name: 'data', path }], cluster: options.cluster }) as BackupResult
  }

  ofType (type: string): CoreEvent[] {
    return this.events.filter(e => e.type === type)
  }

  /** The stored size of the repository's blocks. */
  async storedBlocks (): Promise<{ blocks: number, rawBytes: number }> {
    const stats = await this.core.store.stats()
    return { blocks: stats.blocks, rawBytes: stats.rawBytes }
  }
}

/** `target` allows `source` (into `tenant`), and `source` pairs with it: source may send to target. */
export async function pair (source: ReplCore, target: ReplCore, options: { tenant?: string } = {}): Promise<void> {
  await target.pairing.allow(source.peerId, { name: source.name, tenant: options.tenant })
  const info = await source.pairing.request(target.address, { name: target.name })
  if (!info.canSendTo) throw new Error(`${source.name} cannot send to ${target.name} after pairing: ${JSON.stringify(info)}`)
}

/** A rule as the scheduler would hand it to the engine. */
export function rule (machine: string, to: ReplCore | string, overrides: Partial<RuleRecord> = {}): RuleRecord {
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
