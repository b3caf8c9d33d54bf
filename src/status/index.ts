/**
 * The overview of a Core: machines with their chains, repository size and deduplication, peers
 * with a health colour, replication rules with lag, seed drives. `drcore status`, the console's
 * Overview and `/metrics` all read it; the `status` operation (src/core/handlers/status.ts)
 * builds it from the Core's parts.
 */
export type { Overview, MachineOverview, PointOverview, PeerOverview, PeerHealth, RuleOverview, RepositorySize, JobProgressEvent } from './api.ts'
export { buildOverview, POINTS_SHOWN } from './overview.ts'
export type { OverviewSources } from './overview.ts'
