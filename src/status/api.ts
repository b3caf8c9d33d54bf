import type { PeerRef } from '../api/peer-ref.ts'
import type { StorageUsage } from '../store/api.ts'
import type { PointKind } from '../points/api.ts'
import type { PeerInfo } from '../peers/index.ts'
import type { RetentionRow } from '../retention/index.ts'
import type { TenantRow } from '../tenants/index.ts'
import type { SeedRow } from '../seed/api.ts'

/**
 * The overview of a Core (`drcore status --json`, `GET /api/v1/status`, the console's Overview).
 * One snapshot: the console refetches it when an event says something changed.
 */
export interface Overview {
  core: {
    peerId: string
    name: string
    /** the network runs (the daemon); false when the CLI opened the repository itself */
    online: boolean
    addresses: string[]
  }
  generatedAt: string
  repository: RepositorySize
  machines: MachineOverview[]
  peers: PeerOverview[]
  /** pairing requests waiting for the operator */
  pendingRequests: number
  rules: RuleOverview[]
  seeds: SeedRow[]
  /** the default retention policy (machines without their own follow it) */
  defaultPolicy: RetentionRow['policy']
  /** the tenants hosted here: use, quota, retention lock (as `drcore tenant list`) */
  tenants: TenantRow[]
}

/**
 * Sizes of the repository. `logicalBytes` is what the points protect: the file bytes of every
 * volume of every distinct point (a point held for two tenants counts once), as if each point
 * were a full copy. `rawBytes` is the unique blocks before compression, `storedBytes` after.
 *   dedupRatio       = logicalBytes / rawBytes     (what content addressing saves)
 *   compressionRatio = rawBytes / storedBytes      (what zstd saves)
 *   reductionRatio   = logicalBytes / storedBytes  (both: the figure to compare with other tools)
 * A ratio is null while its divisor is 0.
 */
export interface RepositorySize {
  blocks: number
  logicalBytes: number
  rawBytes: number
  storedBytes: number
  packs: number
  packBytes: number
  dedupRatio: number | null
  compressionRatio: number | null
  reductionRatio: number | null
  /** with packs in an object store: requests, errors and cache since the Core started */
  objectStore?: StorageUsage
  /** when the block statistics were computed (they are cached for a few seconds) */
  measuredAt: string
}

/** One machine's chain as this Core holds it (one per tenant, origin and machine name). */
export interface MachineOverview {
  machine: string
  /** '' for this Core's own tenant */
  tenant: string
  /** the Core that backs it up */
  origin: PeerRef
  cluster: string | null
  /** `local`: backed up here; `incoming`: replicated here from a peer */
  direction: 'local' | 'incoming'
  /** the peer the newest point arrived from, when replicated */
  receivedFrom: PeerRef | null
  pointCount: number
  complete: number
  orphans: number
  logicalBytes: number
  /** the newest points, oldest first (at most `POINTS_SHOWN`; `pointCount` has them all) */
  points: PointOverview[]
  /** its standing retention policy, and what its next rollup would remove now */
  retention: MachineRetention
}

/** A machine's retention, as `drcore retention show` has it. */
export type MachineRetention = Pick<RetentionRow, 'policy' | 'policySource' | 'wouldRemove' | 'locked' | 'lockedUntil'>

export interface PointOverview {
  point: string
  seq: number
  kind: PointKind
  parent: string | null
  /** the parent is one of the machine's points here (false: forgotten, or never here); null for a base */
  parentPresent: boolean | null
  complete: boolean
  /** blocks known missing at the last check */
  missingBlocks: number
  /** entries its backup could not store: the point is partial when not 0 */
  skipped: number
  createdAt: string
  /** when this Core received it, for points that came from elsewhere */
  receivedAt: string | null
  origin: PeerRef
  tenant: string
  files: number
  bytes: number
}

/**
 * Health of a relationship, as the console colours it:
 *   connected (green)  approved and a connection is open
 *   paused    (yellow) every rule to it is paused, or a decision is awaited (pending, requested)
 *   error     (red)    denied, either way, or a rule to it fails while it is reachable
 *   offline   (grey)   no connection now
 */
export type PeerHealth = 'connected' | 'paused' | 'error' | 'offline'

export interface PeerOverview extends PeerInfo {
  health: PeerHealth
  /** the words the console prints next to the colour */
  healthReason: string
}

/**
 * A replication rule as the scheduler lists it (`drcore replication list --json`); fields the
 * scheduler does not provide are absent.
 */
export interface RuleOverview {
  machine: string
  to: PeerRef
  state: string
  schedule: string
  window?: string | null
  paused?: boolean
  seedDrive?: boolean
  seedState?: string | null
  limit?: number | null
  lastPoint: string | null
  /** null while the Core is not running */
  pointsBehind?: number | null
  bytesSent: number
  blocksSent?: number
  error: string | null
  lastRunAt?: string | null
  lastSuccessAt?: string | null
  /** the running job's latest progress (see `replication.progress` events) */
  job?: Omit<JobProgressEvent, 'machine' | 'to'> | null
  /** age in seconds of the newest point not yet on the target; 0 when none is behind */
  lagSeconds: number | null
}

/** Data of a `replication.progress` event (live only, see EventLog.publish). */
export interface JobProgressEvent {
  machine: string
  to: string
  point?: string
  pointIndex?: number
  points?: number
  bytesSent: number
  bytesToSend?: number
  blocksSent?: number
  /** bytes per second */
  rate?: number
  startedAt?: string
  done?: boolean
}
