import { CID } from 'multiformats/cid'
import type { ProgressFn } from '../api/operations.ts'
import type { PointPins } from '../points/pins.ts'
import type { PointRecord } from '../points/api.ts'
import type { BlockStore, Collection, SweepPlan, SweepResult } from '../store/index.ts'
import { TenantBlocks } from '../tenants/index.ts'
import { UnreadablePointsError } from './errors.ts'
import { blockLinks, hasLinks } from './links.ts'
import type { PruneResult } from './api.ts'

/** What prune needs of a Core; the composition root (src/core/) hands them over. */
export interface PruneDeps {
  store: BlockStore
  /** every point record, of every tenant */
  points: { all: () => Promise<PointRecord[]> }
  /** points pinned by operations in progress (seed create) */
  pins: Pick<PointPins, 'pinned'>
  tenants: Pick<TenantBlocks, 'tenants' | 'refs' | 'recount'>
  /**
   * Seeds this Core consumes whose parts are not all in yet: the blocks of their parts in are
   * kept until the rest arrive (a part recorded as imported is never read again).
   */
  seedsInProgress: () => Promise<Array<{ seed: string, tenant: string, points: string[] }>>
}

export interface PruneOptions {
  /** plan only: report what would be freed, change nothing */
  dryRun?: boolean
  /** dead bytes allowed to stay in packs not worth rewriting (default 5%, restic's) */
  maxUnused?: number
  onProgress?: ProgressFn
  signal?: AbortSignal
}

/** Marks given to `Collection.mark` at once: amortizes its level walk. */
const MARK_BATCH = 4096

/**
 * Frees the blocks no point needs any more (docs/retention.md, "Garbage collection"): starts a
 * collection in the store (which keeps whatever it reports present from then on), marks the
 * closure of every point of every tenant, of the points seed creations pin and of seeds partly
 * consumed, then sweeps: dead index entries with their tenants' references, packs without a live
 * record, and mostly dead packs rewritten until at most `maxUnused` of the repository is dead.
 */
export async function prune (deps: PruneDeps, options: PruneOptions = {}): Promise<PruneResult> {
  const started = performance.now()
  const { onProgress, signal } = options
  const collection = await deps.store.collect({
    hasLinks,
    links: blockLinks,
    onWait: writers => onProgress?.({ phase: 'prune: waiting for writers', done: 0, total: writers, unit: 'blocks', detail: `${writers} backup, transfer or import${writers === 1 ? '' : 's'} started before the prune` })
  })
  try {
    signal?.throwIfAborted()
    const points = await markAll(deps, collection, onProgress, signal)
    onProgress?.({ phase: 'prune: plan', done: 0, unit: 'blocks' })
    const plan = await collection.plan({ maxUnused: options.maxUnused })
    if (options.dryRun === true) return resultOf(plan, undefined, collection, points, started)
    const tenants = await deps.tenants.tenants()
    const sweep = await collection.sweep(plan, {
      removed: cids => TenantBlocks.removalOps(tenants, cids),
      signal,
      onProgress: (phase, done, total) => onProgress?.(phase === 'remove'
        ? { phase: 'prune: remove dead blocks', done, total, unit: 'blocks' }
        : { phase: 'prune: rewrite packs', done, total, unit: 'packs' })
    })
    // the removal batches dropped the usage counters of the tenants whose references went
    for (const tenant of tenants) await deps.tenants.recount(tenant)
    return resultOf(plan, sweep, collection, points, started)
  } finally {
    await collection.end()
  }
}

/** Marks every point, every pinned point and every seed in progress; returns how many points. */
async function markAll (deps: PruneDeps, collection: Collection, onProgress: ProgressFn | undefined, signal: AbortSignal | undefined): Promise<number> {
  // the index first, the pins after: a point pinned after this read is checked by its pinner
  // to still have its record (src/core/handlers/seed.ts), so the read saw it
  const records = await deps.points.all()
  const unknown: string[] = []
  const marked = new Set<string>()
  for (const [i, record] of records.entries()) {
    if (i % 16 === 0) {
      signal?.throwIfAborted()
      onProgress?.({ phase: 'prune: mark', done: i, total: records.length, unit: 'points' })
    }
    if (marked.has(record.point)) continue // the same point in another tenant: its blocks are the same
    marked.add(record.point)
    const id = CID.parse(record.point)
    // the roots come from the record too, so a manifest missing here hides nothing
    const unreadable = await collection.mark([id, ...Object.values(record.volumes).map(v => CID.parse(v.root))])
    const hidden = unreadable.filter(cid => !cid.equals(id))
    // an orphan never had what its missing nodes hold; a point that was whole did
    if (hidden.length > 0 && (record.complete || record.damaged === true)) unknown.push(describeUnknown(record, hidden))
  }
  onProgress?.({ phase: 'prune: mark', done: records.length, total: records.length, unit: 'points' })
  if (unknown.length > 0) {
    throw new UnreadablePointsError(`prune removed nothing: it cannot tell which blocks ${unknown[0]}${unknown.length > 1 ? ` (and ${unknown.length - 1} more points)` : ''}; ` +
      'run drcore repair to bring a good copy back, or forget the point, then prune again')
  }
  for (const id of deps.pins.pinned()) {
    if (!marked.has(id)) await collection.mark([CID.parse(id)])
  }
  for (const seed of await deps.seedsInProgress()) {
    signal?.throwIfAborted()
    await collection.mark(seed.points.map(p => CID.parse(p)))
    // parts may come in any order: what the tenant's parts delivered is kept whole
    if (seed.tenant !== '') {
      let batch: CID[] = []
      for await (const cid of deps.tenants.refs(seed.tenant)) {
        batch.push(cid)
        if (batch.length >= MARK_BATCH) {
          await collection.mark(batch)
          batch = []
        }
      }
      await collection.mark(batch)
    }
  }
  return marked.size
}

function describeUnknown (record: PointRecord, hidden: CID[]): string {
  const machine = record.tenant === '' ? record.machine : `${record.tenant}/${record.machine}`
  return `point ${record.point} of ${machine} needs: its node ${hidden[0]} is damaged or missing here`
}

function resultOf (plan: SweepPlan, sweep: SweepResult | undefined, collection: Collection, points: number, started: number): PruneResult {
  const wouldFree = plan.remove.reduce((n, p) => n + p.bytes, 0) + plan.rewrite.reduce((n, p) => n + p.deadBytes, 0)
  const bytesFreed = sweep?.bytesFreed ?? wouldFree
  return {
    dryRun: sweep === undefined,
    blocksRemoved: sweep?.blocksRemoved ?? plan.deadBlocks,
    bytesFreed,
    packsRewritten: sweep?.packsRewritten ?? plan.rewrite.length,
    packsDeleted: sweep?.packsDeleted ?? plan.remove.length,
    seconds: (performance.now() - started) / 1000,
    points,
    blocksKept: plan.liveBlocks,
    damagedRemoved: sweep?.damagedRemoved ?? plan.deadDamaged,
    packsBefore: plan.packs,
    packsKept: sweep?.packsKept ?? 0,
    packsWritten: sweep?.packsWritten ?? 0,
    packsHeld: plan.held,
    bytesBefore: plan.bytes,
    bytesAfter: plan.bytes - bytesFreed,
    bytesCopied: sweep?.bytesCopied ?? plan.rewrite.reduce((n, p) => n + p.liveBytes, 0),
    deadBytesLeft: plan.deadBytesLeft,
    maxUnused: plan.maxUnused,
    waitedForWriters: collection.waitedSeconds,
    liveSetBytes: collection.memoryBytes,
    damaged: sweep?.damaged ?? []
  }
}
