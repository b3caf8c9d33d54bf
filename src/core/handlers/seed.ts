import { isAbsolute } from 'node:path'
import type { Handlers } from '../../api/handler.ts'
import type { PeerNamer, PeerRef } from '../../api/peer-ref.ts'
import { SerialQueue } from '../../common/serial-queue.ts'
import { parseSize } from '../../common/sizes.ts'
import { NotFoundError, UsageError, UserError } from '../../errors.ts'
import type { EventSink } from '../../events/api.ts'
import type { PeerRegistry } from '../../peers/index.ts'
import { isPeerId } from '../../peers/record.ts'
import type { PointIndex } from '../../points/point-index.ts'
import type { PointPins } from '../../points/pins.ts'
import type { RepositoryFiles } from '../../repo/index.ts'
import type { RuleStore } from '../../rules/index.ts'
import { consumeSeed, missingParts, removeUnfinishedSeeds, selectPoints, writeSeed } from '../../seed/index.ts'
import type { SeedConsumeResult, SeedCreateOutput, SeedImports, SeedRegistry, SeedRow, SeedSelection } from '../../seed/index.ts'
import type { BlockStore } from '../../store/api.ts'
import type { Retention } from '../../retention/index.ts'
import type { TenantBlocks, TenantQuotas } from '../../tenants/index.ts'
import type { JobTriggers } from './replication.ts'
import { rollupQuietly } from '../rollup.ts'

/** What seeds need to know about peers (read only); the `PeerRegistry` provides it. */
export type SeedPeers = Pick<PeerRegistry, 'resolve' | 'tenantOf'>

/** The parts of a Core the seed operations use. */
export interface SeedParts {
  readonly files: Pick<RepositoryFiles, 'privateKey' | 'peerId' | 'config'>
  readonly store: BlockStore
  readonly points: PointIndex
  /** the points a seed is written from are kept from garbage collection while it is written */
  readonly pins: PointPins
  readonly events: EventSink
  readonly peers: SeedPeers
  /** the seed-drive rules a seed serves */
  readonly rules: RuleStore
  /** the seeds this Core wrote */
  readonly seeds: SeedRegistry
  /** the seeds this Core consumes */
  readonly seedImports: SeedImports
  /** a consumed seed's blocks become its source's tenant's */
  readonly tenants: TenantBlocks
  /** a seed that would take its tenant past its quota is refused */
  readonly quotas: Pick<TenantQuotas, 'check'>
  /** the rollup of the machines a seed brought points of */
  readonly retention: Pick<Retention, 'rollup'>
  /** a seed consumed or abandoned may start replication jobs */
  readonly triggers: Pick<JobTriggers, 'seedConsumed' | 'seedAbandoned'>
  /** names peers in results (api/peer-ref.ts) */
  readonly name: PeerNamer
}

/**
 * The seed operations (`seedCreate`, `seeds`, `seedAbandon`, `seedConsume` in
 * api/operations.ts). Operations that write run one at a time.
 */
export function seedHandlers (core: SeedParts) {
  const self = core.files.peerId.toString()
  const registry = core.seeds
  const imports = core.seedImports
  const writes = new SerialQueue()
  const named = (peerId: string | null): PeerRef | null => peerId === null ? null : core.name(peerId)

  return {
    seedCreate: async (input, onProgress) => await writes.run(async (): Promise<SeedCreateOutput> => {
      if (!isAbsolute(input.out)) throw new UsageError('seed create: "out" must be an absolute path')
      const maxSize = input.maxSize === undefined ? undefined : partSize(input.maxSize)
      const to = input.to === undefined ? undefined : resolveTarget(core.peers, input.to, self)
      const { selection, release } = await pinSelection(core, async () => await selectPoints(core.points, core.rules, { machines: input.machines, all: input.all, to }))
      let written
      let removed
      try {
        const recorded = new Set((await registry.list()).map(r => r.seed))
        removed = await removeUnfinishedSeeds(input.out, self, async seed => recorded.has(seed))
        written = await writeSeed(
          { store: core.store, privateKey: core.files.privateKey, peerId: self, name: core.files.config.name },
          selection,
          { dir: input.out, maxSize, onProgress })
      } finally {
        release()
      }
      const { result, record } = written
      await registry.add(record)
      core.events.emit('seed.created',
        `seed ${record.seed} written to ${record.dir}: ${record.points.length} points of ${record.machines.map(m => m.machine).join(', ')} in ${record.parts} part${record.parts > 1 ? 's' : ''}`,
        { seed: record.seed, target: record.target, dir: record.dir, parts: record.parts, points: record.points.length, blocks: record.blocks, bytes: record.bytes, rules: record.rules })
      return { ...result, target: named(result.target), removed }
    }),

    seeds: async (): Promise<SeedRow[]> => {
      const rows: SeedRow[] = []
      for (const r of await registry.list()) {
        rows.push({
          seed: r.seed,
          direction: 'outgoing',
          state: r.state,
          source: core.name(self),
          target: named(r.target),
          machines: r.machines.map(m => m.machine),
          points: r.points.length,
          oldest: r.from,
          newest: r.to,
          parts: r.parts,
          missingParts: [],
          bytes: r.bytes,
          createdAt: r.createdAt
        })
      }
      for (const r of await imports.list()) {
        const missing = missingParts(r.parts, r.imported)
        const dates = r.machines.flatMap(m => [m.from, m.to]).sort()
        rows.push({
          seed: r.seed,
          direction: 'incoming',
          state: missing.length === 0 ? 'consumed' : 'partial',
          source: core.name(r.source),
          target: named(r.target),
          machines: r.machines.map(m => m.machine),
          points: r.points.length,
          oldest: dates[0],
          newest: dates[dates.length - 1],
          parts: r.parts,
          missingParts: missing,
          bytes: null,
          createdAt: r.createdAt
        })
      }
      return rows
    },

    seedAbandon: async (input) => await writes.run(async () => {
      const { record, rules: changed } = await registry.abandon(input.seed)
      core.events.emit('seed.abandoned',
        `seed ${record.seed} abandoned: the next replication job sends its points over the network`,
        { seed: record.seed, target: record.target, rules: changed.map(r => ({ machine: r.machine, to: r.to })) }, 'warning')
      core.triggers.seedAbandoned(changed.map(r => ({ machine: r.machine, to: r.to })))
      return { seed: record.seed, state: record.state, target: named(record.target), rules: changed.map(r => ({ machine: r.machine, to: core.name(r.to), seedState: r.seedState })) }
    }),

    seedConsume: async (input, onProgress) => await writes.run(async (): Promise<SeedConsumeResult & { source: PeerRef | null }> => {
      if (!isAbsolute(input.dir)) throw new UsageError('seed consume: "dir" must be an absolute path')
      const result = await consumeSeed({
        store: core.store,
        points: core.points,
        imports,
        self,
        tenantOf: (peerId) => core.peers.tenantOf(peerId),
        tenants: core.tenants,
        quotas: core.quotas,
        events: core.events
      }, input.dir, onProgress)
      // the points it brought are received points: their machines' policies apply
      const record = result.seed === null || result.tenant === null ? undefined : await imports.get(result.seed)
      for (const m of record?.machines ?? []) await rollupQuietly(core.retention, core.events, { tenant: result.tenant!, origin: m.origin, machine: m.machine })
      return { ...result, source: named(record?.source ?? null) }
    })
  } satisfies Pick<Handlers, 'seedCreate' | 'seeds' | 'seedAbandon' | 'seedConsume'>
}

/**
 * Selects the points of a seed and pins them against garbage collection. A prune reads the point
 * index before the pins: a point pinned after that read is safe only if its record is still
 * there once pinned (then that read saw it). So the selection is checked after pinning, and made
 * again when a point was forgotten in between.
 */
async function pinSelection (core: Pick<SeedParts, 'points' | 'pins'>, select: () => Promise<SeedSelection>): Promise<{ selection: SeedSelection, release: () => void }> {
  for (let attempt = 1; ; attempt++) {
    const selection = await select()
    const records = selection.machines.flatMap(m => m.points)
    const release = core.pins.pin(records.map(r => r.point))
    const present = await Promise.all(records.map(async r => await core.points.get(r.point, r.tenant) !== undefined))
    if (present.every(Boolean) || attempt >= 3) {
      if (present.every(Boolean)) return { selection, release }
      release()
      throw new UserError('the recovery points changed while the seed was being planned (points were forgotten); run seed create again')
    }
    release()
  }
}

/** `--to`: a known peer by id or name, or the id of a Core not paired yet. */
function resolveTarget (peers: SeedPeers, to: string, self: string): string {
  let peerId: string
  try {
    peerId = peers.resolve(to).peerId
  } catch (err) {
    if (!(err instanceof NotFoundError) || !isPeerId(to)) throw err
    peerId = to
  }
  if (peerId === self) throw new UsageError('seed create: --to names this Core itself')
  return peerId
}

/** `--max-size`: a whole number of bytes, at least one ("700M", "4G", "512KiB", "1048576"). */
function partSize (text: string): number {
  const bytes = Math.floor(parseSize(text) ?? 0)
  if (bytes < 1) throw new UsageError(`not a size: "${text}" (use e.g. 700M, 4G)`)
  return bytes
}
