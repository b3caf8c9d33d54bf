import { EventLog } from '../events/log.ts'
import { PeerRegistry } from '../peers/index.ts'
import { PointIndex, PointPins } from '../points/index.ts'
import { ReplicationCursors } from '../replication/cursors.ts'
import { openRepositoryFiles } from '../repo/index.ts'
import type { RepositoryFiles } from '../repo/index.ts'
import { RuleStore } from '../rules/index.ts'
import { SeedImports, SeedRegistry } from '../seed/index.ts'
import { localPackStorage, openBlockStore, openS3PackStorage } from '../store/index.ts'
import type { BlockStore, PackStorage } from '../store/index.ts'
import { Retention, RetentionPolicies } from '../retention/index.ts'
import { TenantBlocks, TenantQuotas, TenantSettings } from '../tenants/index.ts'

/**
 * Every store of a repository, opened once. Services never open a store themselves: they get
 * these instances, so each store has one owner that serializes its own writes (restic opens one
 * `Repository` in the same spirit).
 */
export interface Services {
  /** the repository: config, identity, the LevelDB index (holding its lock) */
  readonly files: RepositoryFiles
  /** blocks in pack files, with the quarantine of damaged ones */
  readonly store: BlockStore
  /** recovery points, machines and chains */
  readonly points: PointIndex
  /** points operations in progress keep from garbage collection (seed create) */
  readonly pins: PointPins
  readonly events: EventLog
  /** known peers and the pairing decisions */
  readonly peers: PeerRegistry
  /** replication rules */
  readonly rules: RuleStore
  /** per target and machine, the last point acknowledged */
  readonly cursors: ReplicationCursors
  /** which blocks each tenant delivered, and what they add up to */
  readonly tenants: TenantBlocks
  /** each tenant's quota and retention lock, as this Core's operator set them */
  readonly tenantSettings: TenantSettings
  /** the quotas, checked before a peer's block or a seed is stored */
  readonly quotas: TenantQuotas
  /** the standing retention policies */
  readonly policies: RetentionPolicies
  /** forget and the rollup */
  readonly retention: Retention
  /** the seed drives this Core wrote */
  readonly seeds: SeedRegistry
  /** the seed drives this Core consumes */
  readonly seedImports: SeedImports
}

/** Opens the repository at `dir` and every store in it; nothing is left open on failure. */
export async function openServices (dir: string): Promise<Services> {
  const files = await openRepositoryFiles(dir)
  try {
    const { db } = files
    const store = await openBlockStore({ storage: await openPackStorage(files), db })
    const events = new EventLog(db)
    await events.start()
    const peers = await PeerRegistry.open(db, { self: files.peerId.toString(), events })
    const rules = new RuleStore(db)
    const points = new PointIndex(db)
    const tenants = new TenantBlocks(db, store)
    const tenantSettings = new TenantSettings(db)
    const policies = new RetentionPolicies(db)
    return {
      files,
      store,
      points,
      pins: new PointPins(),
      events,
      peers,
      rules,
      cursors: new ReplicationCursors(db),
      tenants,
      tenantSettings,
      quotas: new TenantQuotas(tenantSettings, tenants),
      policies,
      retention: new Retention({ points, policies, settings: tenantSettings, blocks: tenants, events }),
      seeds: new SeedRegistry(db, rules),
      seedImports: new SeedImports(db)
    }
  } catch (err) {
    await files.db.close()
    throw err
  }
}

/**
 * Where the repository's packs live: `packs/`, or the bucket of `config.storage` (whose lock
 * this Core takes; `noLock` for inspection that writes nothing there).
 */
export async function openPackStorage (files: RepositoryFiles, options: { noLock?: boolean } = {}): Promise<PackStorage> {
  const storage = files.config.storage
  if (storage === undefined) return localPackStorage(files.packsDir)
  return await openS3PackStorage({ ...storage, stagingDir: files.packsDir, owner: files.peerId.toString(), noLock: options.noLock })
}

/** Waits for the event log's writes, then closes the block store and the repository (its lock). */
export async function closeServices (services: Services): Promise<void> {
  await services.events.flush()
  await services.store.close()
  await services.files.db.close()
}
