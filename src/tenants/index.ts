/**
 * What each tenant may see on this Core (docs/protocol.md, "Tenants"): the blocks it delivered
 * (`TenantBlocks`) and, through them, its points and their completeness (`TenantScope`); and
 * what this Core's operator decided for it (docs/retention.md): its quota (`TenantQuotas`
 * against its usage) and retention lock (`TenantSettings`). Every answer to a peer, a seed
 * import and a repair goes through here, so it sits below replication/, seed/ and repair/.
 */
export { TenantBlocks, TENANT_BLOCKS_SUBLEVEL, TENANT_COMPLETE_SUBLEVEL, TENANT_USAGE_SUBLEVEL } from './blocks.ts'
export type { TenantUsage } from './blocks.ts'
export { TenantScope, summaryOf } from './scope.ts'
export type { ScopeDeps } from './scope.ts'
export { TenantSettings } from './settings.ts'
export type { TenantChanges, TenantRecord, TenantRow } from './settings.ts'
export { TenantQuotas } from './quota.ts'
export { QuotaExceededError, RetentionLockedError } from './errors.ts'
