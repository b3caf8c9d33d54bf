import { createNode } from '../net/index.ts'
import type { DrcoreNode } from '../net/index.ts'
import { PairingService } from '../peers/index.ts'
import type { PairingOptions } from '../peers/index.ts'
import { ReplicationEngine } from '../replication/engine.ts'
import type { EngineOptions } from '../replication/api.ts'
import { ReplicationScheduler } from '../scheduler/index.ts'
import { PruneSchedule } from '../prune/index.ts'
import { pruneRunner } from './handlers/index.ts'
import type { Services } from './services.ts'
import { rollupAllQuietly, rollupQuietly } from './rollup.ts'

/**
 * How a Core runs its network, all explicit: the daemon takes them from the repository's config
 * and its environment (daemon.ts), tests and benchmarks set them themselves.
 */
export interface NetworkOptions {
  /** multiaddrs to listen on, e.g. `/ip4/0.0.0.0/tcp/4101`; port 0 picks a free port */
  listen: string[]
  /** waits before retrying a failed replication job (default 30 s, 2 min, 10 min) */
  retryDelays?: number[]
  /** the replication engine's tunables (defaults suit production) */
  engine?: EngineOptions
  /** pairing: rate limits for peers not approved yet, retry interval and deadline of decisions */
  pairing?: Pick<PairingOptions, 'perPeer' | 'perAddress' | 'retryInterval' | 'timeout'>
  /** replication jobs at once (default 2) */
  concurrency?: number
  /** when to prune by itself: a cron expression, or null/absent for never (the daemon sets it from config.json) */
  pruneSchedule?: string | null
}

/** The running network of a Core, built on its services. */
export interface Network {
  readonly node: DrcoreNode
  readonly pairing: PairingService
  readonly engine: ReplicationEngine
  readonly scheduler: ReplicationScheduler
  /** prunes on the schedule of `NetworkOptions.pruneSchedule` */
  readonly pruning: PruneSchedule
  /** Stops a scheduled prune, then jobs (the scheduler), then the engine's handlers, pairing and libp2p. */
  stop (): Promise<void>
}

/**
 * Starts libp2p, the pairing service, the replication engine and the scheduler on the Core's
 * services, in that order; if one fails to start, the ones already started are stopped.
 */
export async function startNetwork (services: Services, options: NetworkOptions): Promise<Network> {
  const { files, store, points, events, peers, rules, cursors, tenants, tenantSettings, quotas, seeds, retention } = services
  const started: Array<() => Promise<void>> = []
  const stop = async (): Promise<void> => {
    for (const stopOne of started.splice(0).reverse()) await stopOne()
  }
  try {
    const node = await createNode({ privateKey: files.privateKey, listen: options.listen, trust: peers, events })
    started.push(async () => { await node.stop() })
    const pairing = new PairingService({ ...options.pairing, node, registry: peers, name: files.config.name })
    await pairing.start()
    started.push(async () => { await pairing.stop() })
    const engine = new ReplicationEngine({ self: files.peerId.toString(), store, points, events, peers, node, cursors, tenants, tenantSettings, quotas, rules, seeds, pins: services.pins }, options.engine)
    await engine.start()
    started.push(async () => { await engine.stop() })
    // the rollup: every point received applies its machine's standing policy (docs/retention.md)
    const stopRollup = engine.onPointReceived(event => {
      void rollupQuietly(retention, events, { tenant: event.tenant, origin: event.origin, machine: event.machine })
    })
    started.push(async () => { stopRollup() })
    const scheduler = new ReplicationScheduler({ rules, jobs: engine, events, points, peers, retryDelays: options.retryDelays, concurrency: options.concurrency })
    await scheduler.start()
    started.push(async () => { await scheduler.stop() })
    const runPrune = pruneRunner(services)
    // after the rollup: what the standing policies stopped keeping is freed in the same run
    const pruning = new PruneSchedule({
      schedule: options.pruneSchedule ?? null,
      run: async signal => {
        await rollupAllQuietly(retention, points, events)
        return await runPrune({ signal })
      }
    })
    pruning.start()
    started.push(async () => { await pruning.stop() })
    return { node, pairing, engine, scheduler, pruning, stop }
  } catch (err) {
    await stop()
    throw err
  }
}
