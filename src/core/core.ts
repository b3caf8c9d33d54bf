import type { Handler, Handlers } from '../api/handler.ts'
import { operations } from '../api/operations.ts'
import type { OperationName, OperationSpec, ProgressFn } from '../api/operations.ts'
import { validateInput } from '../api/validate.ts'
import { asExpectedError, UsageError } from '../errors.ts'
import type { DrcoreNode } from '../net/index.ts'
import { OfflinePairing } from '../peers/index.ts'
import type { PairingService } from '../peers/index.ts'
import type { ReplicationEngine } from '../replication/engine.ts'
import type { ReplicationScheduler } from '../scheduler/index.ts'
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
// the services, as the fields of a Core (declaration merging: the constructor assigns them all)
interface Core extends Services {}

abstract class Core {
  readonly #handlers: Handlers

  protected constructor (services: Services, network: NetworkParts) {
    Object.assign(this, services)
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
