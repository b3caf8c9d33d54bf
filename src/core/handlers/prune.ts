import type { Handlers } from '../../api/handler.ts'
import type { EventSink } from '../../events/api.ts'
import { asExpectedError } from '../../errors.ts'
import { prune } from '../../prune/index.ts'
import type { PruneDeps, PruneOptions, PruneResult } from '../../prune/index.ts'
import { missingParts } from '../../seed/index.ts'
import type { SeedImports } from '../../seed/index.ts'

/** The parts of a Core prune uses. */
export interface PruneParts extends Omit<PruneDeps, 'seedsInProgress'> {
  readonly events: EventSink
  readonly seedImports: Pick<SeedImports, 'list'>
}

/**
 * One prune on a Core's services, with its events: the `prune` operation and the daemon's
 * schedule (src/core/network.ts) both run this.
 */
export function pruneRunner (core: PruneParts): (options: PruneOptions) => Promise<PruneResult> {
  const deps: PruneDeps = {
    store: core.store,
    points: core.points,
    pins: core.pins,
    tenants: core.tenants,
    seedsInProgress: async () => (await core.seedImports.list())
      .filter(r => missingParts(r.parts, r.imported).length > 0)
      .map(r => ({ seed: r.seed, tenant: r.tenant, points: r.points }))
  }
  return async (options) => {
    let result: PruneResult
    try {
      result = await prune(deps, options)
    } catch (err) {
      const user = asExpectedError(err)
      core.events.emit('prune.failed', `prune failed: ${user?.message ?? String(err)}`, { reason: user?.message ?? String(err) }, 'error')
      throw err
    }
    if (!result.dryRun) {
      core.events.emit('prune.finished',
        `prune freed ${(result.bytesFreed / 2 ** 20).toFixed(1)} MiB: ${result.blocksRemoved} blocks removed, ${result.packsDeleted} packs deleted, ${result.packsRewritten} rewritten`,
        { ...result }, result.damaged.length > 0 ? 'warning' : 'info')
    }
    return result
  }
}

export function pruneHandlers (core: PruneParts) {
  const run = pruneRunner(core)
  return {
    prune: async (input, onProgress) => await run({ dryRun: input.dryRun, onProgress })
  } satisfies Pick<Handlers, 'prune'>
}
