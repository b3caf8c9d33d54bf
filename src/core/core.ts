import type { Handler, Handlers } from '../api/handler.ts'
import { operations } from '../api/operations.ts'
import type { OperationName, OperationSpec, ProgressFn } from '../api/operations.ts'
import { validateInput } from '../api/validate.ts'
import { asExpectedError, UsageError } from '../errors.ts'
import type { EventLog } from '../events/log.ts'
import type { DrcoreNode } from '../net/index.ts'
import { OfflinePairing } from '../peers/index.ts'
import type { PairingService, PeerRegistry } from '../peers/index.ts'
import type { PointIndex, PointPins } from '../points/index.ts'
import type { ReplicationCursors } from '../replication/cursors.ts'
import type { ReplicationEngine } from '../replication/engine.ts'
import type { RepositoryFiles } from '../repo/index.ts'
import type { RuleStore } from '../rules/index.ts'
import type { ReplicationScheduler } from '../scheduler/index.ts'
import type { SeedImports, SeedRegistry } from '../seed/index.ts'
import type { BlockStore } from '../store/index.ts'
import type { Retention, RetentionPolicies } from '../retention/index.ts'
import type { TenantBlocks, TenantQuotas, TenantSettings } from '../tenants/index.ts'
import { buildHandlers, OFFLINE_JOBS, runningJobs } from './handlers/index.ts'
import type { NetworkParts } from './handlers/index.ts'
import { startNetwork } from './network.ts'
import type { Network, NetworkOptions } from './network.ts'
import { closeServices, openServices } from './services.ts'
import type { Services } from './services.ts'

/**
 * A Core: one repository, every service opened on it once, and the operations of the table in
 * api/operations.ts. Its two kinds differ in what they are, not in optional fields:
 * an `OfflineCore` (the CLI when no daemon runs) has the services only; an `OnlineCore`
 * (`drcore start`, see daemon.ts) also runs the network on them.
 */
abstract class Core implements Services {
  readonly files: RepositoryFiles
  readonly store: BlockStore
  readonly points: PointIndex
  readonly pins: PointPins
  readonly events: EventLog
  readonly peers: PeerRegistry
  readonly rules: RuleStore
  readonly cursors: ReplicationCursors
  readonly tenants: TenantBlocks
  readonly tenantSettings: TenantSettings
  readonly quotas: TenantQuotas
  readonly policies: RetentionPolicies
  readonly retention: Retention
  readonly seeds: SeedRegistry
  readonly seedImports: SeedImports
  readonly #handlers: Handlers

  protected constructor (services: Services, network: NetworkParts) {
    this.files = services.files
    this.store = services.store
    this.points = services.points
    this.pins = services.pins
    this.events = services.events
    this.peers = services.peers
    this.rules = services.rules
    this.cursors = services.cursors
    this.tenants = services.tenants
    this.tenantSettings = services.tenantSettings
    this.quotas = services.quotas
    this.policies = services.policies
    this.retention = services.retention
    this.seeds = services.seeds
    this.seedImports = services.seedImports
    this.#handlers = buildHandlers(services, network)
  }

  get peerId (): string {
    return this.files.peerId.toString()
  }

  /** Runs one operation with validated input: the single entry point for the CLI and the API. */
  async run (name: OperationName, input: Record<string, unknown>, onProgress?: ProgressFn): Promise<unknown> {
    const spec: OperationSpec | undefined = operations[name]
    if (spec == null) throw new UsageError(`unknown operation: ${name}`)
    // validateInput checks the input against the same table the handler's input type comes from
    const handler = this.#handlers[name] as Handler<OperationName>
    try {
      return await handler(validateInput(name, spec, input) as never, onProgress)
    } catch (err) {
      // a full disk or a failing one is the operator's to fix: one line, not a bug's stack
      throw asExpectedError(err) ?? err
    }
  }

  /** Closes the repository (and stops the network first, on an OnlineCore). */
  async close (): Promise<void> {
    await closeServices(this)
  }
}

/** A Core without the network: rules and pairing decisions are records the daemon acts on later. */
export class OfflineCore extends Core {
  constructor (services: Services) {
    super(services, { online: false, addresses: () => [], pairing: new OfflinePairing(services.peers), jobs: OFFLINE_JOBS })
  }

  /** Opens the repository at `dir` and its services. */
  static async open (dir: string): Promise<OfflineCore> {
    return new OfflineCore(await openServices(dir))
  }
}

/** A Core that runs the network on its services: libp2p, pairing, replication and its scheduler. */
export class OnlineCore extends Core {
  readonly node: DrcoreNode
  readonly pairing: PairingService
  readonly engine: ReplicationEngine
  readonly scheduler: ReplicationScheduler
  readonly #network: Network

  constructor (services: Services, network: Network) {
    super(services, {
      online: true,
      addresses: () => network.node.addresses(),
      pairing: network.pairing,
      jobs: runningJobs(network.scheduler, network.engine),
      repair: network.engine
    })
    this.node = network.node
    this.pairing = network.pairing
    this.engine = network.engine
    this.scheduler = network.scheduler
    this.#network = network
  }

  /**
   * Starts the network on open services (the daemon and the test support both come here). When
   * the network cannot start, the services stay open: their opener closes them.
   */
  static async start (services: Services, options: NetworkOptions): Promise<OnlineCore> {
    return new OnlineCore(services, await startNetwork(services, options))
  }

  /** Stops jobs, then the network, then closes the repository. */
  override async close (): Promise<void> {
    await this.#network.stop()
    await super.close()
  }
}
