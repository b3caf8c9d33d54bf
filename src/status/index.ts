/**
 * The overview of a Core: machines with their chains, repository size and deduplication, peers
 * with a health colour, replication rules with lag, seed drives. `drcore status`, the console's
 * Overview and `/metrics` all read it.
 */
import type { CoreParts, Handlers } from '../core.ts'
import type { OperationName } from '../api/operations.ts'
import { UsageError } from '../errors.ts'
import { RuleStore } from '../rules/index.ts'
import type { SeedRow } from '../seed/api.ts'
import type { StoreStats } from '../store/index.ts'
import type { RuleOverview } from './api.ts'
import { buildOverview } from './overview.ts'

export type { Overview, MachineOverview, PointOverview, PeerOverview, PeerHealth, RuleOverview, RepositorySize, JobProgressEvent } from './api.ts'
export { buildOverview, POINTS_SHOWN } from './overview.ts'
export type { OverviewSources } from './overview.ts'

/**
 * Block statistics walk the whole block index: reuse them for this long, or until an event says
 * blocks may have changed. One walk at a time.
 */
const STATS_MAX_AGE_MS = 10_000

/** The parts of a Core the overview reads, and its `run` for the rules and seeds operations. */
export interface StatusCoreParts extends CoreParts {
  readonly peerId: string
  run (name: OperationName, input: Record<string, unknown>): Promise<unknown>
}

export function statusHandlers (core: StatusCoreParts): Handlers {
  const stats = cachedStats(core)
  return {
    status: async () => await buildOverview({
      peerId: core.peerId,
      name: core.files.config.name,
      online: core.node != null,
      addresses: core.node?.addresses() ?? [],
      stats,
      points: core.points,
      peers: core.pairing?.list() ?? core.peers.list(),
      deniedByUs: peerId => core.peers.get(peerId)?.inbound === 'denied',
      rules: await optional(core, 'rules', async () => await storedRules(core)),
      seeds: await optional<SeedRow[]>(core, 'seeds', async () => [])
    })
  }
}

/** Runs an operation another module provides; `fallback` while that module is not registered. */
async function optional<T> (core: StatusCoreParts, name: OperationName, fallback: () => Promise<T>): Promise<T> {
  try {
    return await core.run(name, {}) as T
  } catch (err) {
    if (err instanceof UsageError && err.message === `unknown operation: ${name}`) return await fallback()
    throw err
  }
}

async function storedRules (core: CoreParts): Promise<Array<Omit<RuleOverview, 'lagSeconds'>>> {
  return (await new RuleStore(core.files.db).list()).map(r => ({
    machine: r.machine,
    to: r.to,
    toName: core.peers.get(r.to)?.name ?? null,
    state: r.state,
    schedule: r.schedule,
    window: r.window,
    paused: r.paused,
    seedDrive: r.seedDrive,
    seedState: r.seedState,
    limit: r.limit,
    lastPoint: r.lastPoint,
    bytesSent: r.bytesSent,
    error: r.error,
    lastRunAt: r.lastRunAt,
    lastSuccessAt: r.lastSuccessAt
  }))
}

/** `store.stats()`, computed at most every few seconds and once at a time. */
function cachedStats (core: CoreParts): () => Promise<StoreStats & { measuredAt: string }> {
  let last: { at: number, value: StoreStats & { measuredAt: string } } | undefined
  let running: Promise<StoreStats & { measuredAt: string }> | undefined
  let changedAt = 0
  core.events.subscribe(e => { if (e.seq > 0) changedAt = Date.now() })
  return async () => {
    const age = last === undefined ? Infinity : Date.now() - last.at
    const stale = last === undefined || age >= STATS_MAX_AGE_MS || changedAt >= last.at
    if (!stale) return last!.value
    running ??= core.store.stats().then(s => {
      const value = { ...s, measuredAt: new Date().toISOString() }
      last = { at: Date.now(), value }
      return value
    }).finally(() => { running = undefined })
    return await running
  }
}
