import { isAbsolute } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import type { ProgressFn } from '../api/operations.ts'
import { NotFoundError, UsageError } from '../errors.ts'
import type { EventSink } from '../events/api.ts'
import type { PeerRegistry } from '../peers/index.ts'
import type { PointIndex } from '../points/point-index.ts'
import { RuleStore } from '../rules/index.ts'
import { TenantBlocks } from '../tenants/index.ts'
import type { RepositoryFiles } from '../repo/index.ts'
import type { BlockStore } from '../store/api.ts'
import { consumeSeed } from './consume.ts'
import { writeSeed } from './create.ts'
import { missingParts, SeedImports } from './imports.ts'
import { removeUnfinishedSeeds } from './leftovers.ts'
import { SeedRegistry } from './registry.ts'
import { selectPoints } from './selection.ts'
import type { SeedConsumeResult, SeedCreateResult, SeedRow } from './api.ts'

/** What seeds need to know about peers (read only); the `PeerRegistry` provides it. */
export type SeedPeers = Pick<PeerRegistry, 'resolve' | 'tenantOf'>

/** The parts of a Core the seed operations use. */
export interface SeedCoreParts {
  files: Pick<RepositoryFiles, 'db' | 'privateKey' | 'peerId' | 'config'>
  store: BlockStore
  points: PointIndex
  events: EventSink
  /** the Core's peer registry */
  peers: SeedPeers
}

type Handler = (input: any, onProgress?: ProgressFn) => Promise<unknown>

/**
 * The handlers of the seed operations (`seedCreate`, `seeds`, `seedAbandon`, `seedConsume` in
 * api/operations.ts), for the Core to merge into its table. Operations that write run one at a
 * time.
 */
export function seedHandlers (core: SeedCoreParts): { seedCreate: Handler, seeds: Handler, seedAbandon: Handler, seedConsume: Handler } {
  const self = core.files.peerId.toString()
  const rules = new RuleStore(core.files.db)
  const registry = new SeedRegistry(core.files.db, rules)
  const imports = new SeedImports(core.files.db)
  let running: Promise<unknown> = Promise.resolve()
  const serial = async <T>(fn: () => Promise<T>): Promise<T> => {
    const next = running.then(fn, fn)
    running = next.catch(() => {})
    return await next
  }

  return {
    seedCreate: async (input, onProgress) => await serial(async (): Promise<SeedCreateResult> => {
      if (!isAbsolute(input.out)) throw new UsageError('seed create: "out" must be an absolute path')
      const maxSize = input.maxSize === undefined ? undefined : parseByteSize(input.maxSize)
      const to = input.to === undefined ? undefined : resolveTarget(core.peers, input.to, self)
      const selection = await selectPoints(core.points, rules, { machines: input.machines, all: input.all, to })
      const recorded = new Set((await registry.list()).map(r => r.seed))
      const removed = await removeUnfinishedSeeds(input.out, self, async seed => recorded.has(seed))
      const { result, record } = await writeSeed(
        { store: core.store, privateKey: core.files.privateKey, peerId: self, name: core.files.config.name },
        selection,
        { dir: input.out, maxSize, onProgress })
      await registry.add(record)
      core.events.emit('seed.created',
        `seed ${record.seed} written to ${record.dir}: ${record.points.length} points of ${record.machines.map(m => m.machine).join(', ')} in ${record.parts} part${record.parts > 1 ? 's' : ''}`,
        { seed: record.seed, target: record.target, dir: record.dir, parts: record.parts, points: record.points.length, blocks: record.blocks, bytes: record.bytes, rules: record.rules })
      return { ...result, removed }
    }),

    seeds: async (): Promise<SeedRow[]> => {
      const rows: SeedRow[] = []
      for (const r of await registry.list()) {
        rows.push({
          seed: r.seed, direction: 'outgoing', state: r.state, source: self, target: r.target, machines: r.machines.map(m => m.machine),
          points: r.points.length, from: r.from, to: r.to, parts: r.parts, missingParts: [], bytes: r.bytes, createdAt: r.createdAt
        })
      }
      for (const r of await imports.list()) {
        const missing = missingParts(r.parts, r.imported)
        const dates = r.machines.flatMap(m => [m.from, m.to]).sort()
        rows.push({
          seed: r.seed, direction: 'incoming', state: missing.length === 0 ? 'consumed' : 'partial', source: r.source, target: r.target,
          machines: r.machines.map(m => m.machine), points: r.points.length, from: dates[0], to: dates[dates.length - 1], parts: r.parts,
          missingParts: missing, bytes: null, createdAt: r.createdAt
        })
      }
      return rows
    },

    seedAbandon: async (input) => await serial(async () => {
      const { record, rules: changed } = await registry.abandon(input.seed)
      core.events.emit('seed.abandoned',
        `seed ${record.seed} abandoned: the next replication job sends its points over the network`,
        { seed: record.seed, target: record.target, rules: changed.map(r => ({ machine: r.machine, to: r.to })) }, 'warning')
      return { seed: record.seed, state: record.state, target: record.target, rules: changed.map(r => ({ machine: r.machine, to: r.to, seedState: r.seedState })) }
    }),

    seedConsume: async (input, onProgress) => await serial(async (): Promise<SeedConsumeResult> => {
      if (!isAbsolute(input.dir)) throw new UsageError('seed consume: "dir" must be an absolute path')
      return await consumeSeed({
        store: core.store,
        points: core.points,
        imports,
        self,
        tenantOf: (peerId) => core.peers.tenantOf(peerId),
        tenants: new TenantBlocks(core.files.db),
        events: core.events
      }, input.dir, onProgress)
    })
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

function isPeerId (value: string): boolean {
  try {
    peerIdFromString(value)
    return true
  } catch {
    return false
  }
}

/** "4G", "700M", "1.5g", "512KiB", "1048576" -> bytes (binary multiples). */
export function parseByteSize (text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(text.trim())
  if (m == null) throw new UsageError(`not a size: "${text}" (use e.g. 700M, 4G)`)
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't']
  const bytes = Math.floor(Number(m[1]) * unit)
  if (bytes < 1) throw new UsageError(`not a size: "${text}" (use e.g. 700M, 4G)`)
  return bytes
}
