/**
 * The composition root: the only place that knows every service. `services.ts` opens each store
 * of a repository once, `network.ts` builds the running network from them with explicit
 * options, `handlers/` implements the operation table per area on those parts, and `core.ts`
 * puts them together as an `OfflineCore` or an `OnlineCore`.
 */
export { OfflineCore, OnlineCore } from './core.ts'
export { closeServices, openServices } from './services.ts'
export { checkNewPrefix, rebuildRepositoryIndex } from './pack-storage.ts'
export type { Services } from './services.ts'
export { startNetwork } from './network.ts'
export type { Network, NetworkOptions } from './network.ts'
export type { VerifyReport } from './handlers/index.ts'
