/**
 * What each tenant may see on this Core (docs/protocol.md, "Tenants"): the blocks it delivered
 * (`TenantBlocks`) and, through them, its points and their completeness (`TenantScope`). Every
 * answer to a peer, a seed import and a repair goes through here, so it sits below replication/,
 * seed/ and repair/.
 */
export { TenantBlocks, TENANT_BLOCKS_SUBLEVEL, TENANT_COMPLETE_SUBLEVEL } from './blocks.ts'
export { TenantScope, summaryOf } from './scope.ts'
export type { ScopeDeps } from './scope.ts'
