import type { Handlers } from '../../api/handler.ts'
import type { EventLog } from '../../events/log.ts'
import type { PairingOperations, PeerRegistry } from '../../peers/index.ts'
import type { PointIndex } from '../../points/index.ts'
import type { RuleRow } from '../../replication/api.ts'
import type { RepositoryFiles } from '../../repo/index.ts'
import type { SeedRow } from '../../seed/api.ts'
import type { RetentionShow } from '../../retention/index.ts'
import type { TenantRow } from '../../tenants/index.ts'
import { buildOverview } from '../../status/index.ts'
import type { BlockStore, StoreStats } from '../../store/index.ts'

/**
 * Block statistics walk the whole block index: reuse them for this long, or until an event says
 * blocks may have changed. One walk at a time.
 */
const STATS_MAX_AGE_MS = 10_000

/** The parts of a Core the overview reads. */
export interface StatusParts {
  readonly files: Pick<RepositoryFiles, 'peerId' | 'config'>
  readonly store: BlockStore
  readonly points: PointIndex
  readonly events: EventLog
  readonly peers: PeerRegistry
  /** the peers as the peer operations list them */
  readonly pairing: PairingOperations
  /** the network runs (the daemon) */
  readonly online: boolean
  addresses (): string[]
  /** the rules and the seeds, as their operations list them */
  rules (): Promise<RuleRow[]>
  seeds (): Promise<SeedRow[]>
  /** the policies and tenants, as their operations list them */
  retention (): Promise<RetentionShow>
  tenants (): Promise<TenantRow[]>
}

/**
 * `status`: the overview of a Core (machines with their chains, repository size and
 * deduplication, peers with a health colour, rules with lag, seed drives), which `drcore status`,
 * the console's Overview and `/metrics` all read.
 */
export function statusHandlers (core: StatusParts) {
  const stats = cachedStats(core)
  return {
    status: async () => await buildOverview({
      peerId: core.files.peerId.toString(),
      name: core.files.config.name,
      online: core.online,
      addresses: core.addresses(),
      stats,
      points: core.points,
      peers: core.pairing.list(),
      deniedByUs: peerId => core.peers.get(peerId)?.inbound === 'denied',
      rules: await core.rules(),
      seeds: await core.seeds(),
      retention: await core.retention(),
      tenants: await core.tenants()
    })
  } satisfies Pick<Handlers, 'status'>
}

/** `store.stats()`, computed at most every few seconds and once at a time. */
function cachedStats (core: Pick<StatusParts, 'store' | 'events'>): () => Promise<StoreStats & { measuredAt: string }> {
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
