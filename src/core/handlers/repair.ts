import type { Handlers } from '../../api/handler.ts'
import { repair } from '../../repair/index.ts'
import type { RepairDeps } from '../../repair/index.ts'

/** The parts of a Core `drcore repair` uses; `network` (the engine) only while the Core runs. */
export type RepairParts = Omit<RepairDeps, 'network'>

/** `repair`: local copies always, and the peers that hold the damaged points when `network` is given. */
export function repairHandlers (core: RepairParts, network: RepairDeps['network']) {
  return {
    repair: async (input, onProgress) => await repair({
      store: core.store,
      points: core.points,
      peers: core.peers,
      rules: core.rules,
      events: core.events,
      network
    }, { from: input.from, onProgress })
  } satisfies Pick<Handlers, 'repair'>
}
