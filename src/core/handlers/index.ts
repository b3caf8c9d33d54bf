import type { Handlers } from '../../api/handler.ts'
import type { PairingOperations } from '../../peers/index.ts'
import type { PeerRepair } from '../../repair/index.ts'
import type { Services } from '../services.ts'
import { peerNamer } from './names.ts'
import { peerHandlers } from './peers.ts'
import { pruneHandlers } from './prune.ts'
import { repairHandlers } from './repair.ts'
import { replicationHandlers } from './replication.ts'
import { retentionHandlers } from './retention.ts'
import type { RuleJobs } from './replication.ts'
import { repositoryHandlers } from './repository.ts'
import { seedHandlers } from './seed.ts'
import { statusHandlers } from './status.ts'

export type { JobTriggers, RuleJobs } from './replication.ts'
export { OFFLINE_JOBS, runningJobs } from './replication.ts'
export type { VerifyReport } from './repository.ts'
export { pruneRunner } from './prune.ts'

/**
 * What the operations get from the network: the running Core's pairing service, scheduler and
 * engine, or, without the network, stand-ins that record decisions and rules for the daemon and
 * refuse what needs a peer (src/core/core.ts builds both).
 */
export interface NetworkParts {
  readonly online: boolean
  addresses (): string[]
  readonly pairing: PairingOperations
  readonly jobs: RuleJobs
  /** asks peers for good copies of damaged blocks; absent without the network */
  readonly repair?: PeerRepair
}

/** Every operation of the table in api/operations.ts, on a Core's services. */
export function buildHandlers (services: Services, network: NetworkParts): Handlers {
  const name = peerNamer(services)
  const replication = replicationHandlers({ ...services, name }, network.jobs)
  const seeds = seedHandlers({ ...services, name, triggers: network.jobs })
  const retention = retentionHandlers({ ...services, name })
  return {
    ...repositoryHandlers({ ...services, name, triggers: network.jobs, addresses: () => network.addresses() }),
    ...repairHandlers(services, network.repair),
    ...pruneHandlers(services),
    ...peerHandlers(network.pairing),
    ...replication,
    ...seeds,
    ...retention,
    // listing the rules first asks the targets of outstanding seeds whether they arrived
    seeds: async () => {
      await replication.rules()
      return await seeds.seeds()
    },
    ...statusHandlers({
      ...services,
      pairing: network.pairing,
      online: network.online,
      addresses: () => network.addresses(),
      rules: async () => await replication.rules(),
      seeds: async () => await seeds.seeds(),
      retention: async () => await retention.retentionShow(),
      tenants: async () => await retention.tenants()
    })
  }
}
