import type { PeerNamer } from '../api/peer-ref.ts'
import type { PointIndex } from '../points/index.ts'
import type { PointRecord } from '../points/api.ts'
import type { PeerInfo } from '../peers/index.ts'
import type { SeedRow } from '../seed/api.ts'
import type { StoreStats } from '../store/index.ts'
import type { RetentionShow } from '../retention/index.ts'
import type { TenantRow } from '../tenants/index.ts'
import type { MachineOverview, MachineRetention, Overview, PeerHealth, PeerOverview, PointOverview, RepositorySize, RuleOverview } from './api.ts'

/** Points per machine in an overview: enough for a timeline, small enough for a page. */
export const POINTS_SHOWN = 120

/** What an overview is built from. */
export interface OverviewSources {
  peerId: string
  name: string
  online: boolean
  addresses: string[]
  stats: () => Promise<StoreStats & { measuredAt: string }>
  points: Pick<PointIndex, 'all'>
  peers: PeerInfo[]
  /** true when this Core denied the peer (a `denied` state may also mean the peer denied us) */
  deniedByUs: (peerId: string) => boolean
  /** rules as the scheduler lists them (without `lagSeconds`) */
  rules: Array<Omit<RuleOverview, 'lagSeconds'>>
  seeds: SeedRow[]
  /** the policies and what each machine's next rollup would remove (`drcore retention show`) */
  retention: RetentionShow
  /** the tenants hosted here (`drcore tenant list`) */
  tenants: TenantRow[]
  now?: Date
}

export async function buildOverview (src: OverviewSources): Promise<Overview> {
  const now = src.now ?? new Date()
  const records = await src.points.all()
  const names = new Map<string, string>([[src.peerId, src.name]])
  for (const p of src.peers) if (p.name != null) names.set(p.peerId, p.name)
  const name: PeerNamer = peerId => ({ peerId, name: names.get(peerId) ?? null })
  const machines = machineOverviews(records, src.peerId, name, src.retention)
  const rules = src.rules.map(r => ({ ...r, lagSeconds: lagOf(r, machines, now) }))
  return {
    core: { peerId: src.peerId, name: src.name, online: src.online, addresses: src.addresses },
    generatedAt: now.toISOString(),
    repository: repositorySize(await src.stats(), records),
    machines,
    peers: src.peers.map(p => withHealth(p, rules.filter(r => r.to.peerId === p.peerId), src.deniedByUs(p.peerId))),
    pendingRequests: src.peers.filter(p => p.state === 'pending').length,
    rules,
    seeds: src.seeds,
    defaultPolicy: src.retention.default,
    tenants: src.tenants
  }
}

function repositorySize (stats: StoreStats & { measuredAt: string }, records: PointRecord[]): RepositorySize {
  const seen = new Set<string>()
  let logicalBytes = 0
  for (const r of records) {
    if (seen.has(r.point)) continue
    seen.add(r.point)
    logicalBytes += volumeBytes(r)
  }
  const ratio = (a: number, b: number): number | null => b > 0 ? Math.round((a / b) * 100) / 100 : null
  return {
    blocks: stats.blocks,
    logicalBytes,
    rawBytes: stats.rawBytes,
    storedBytes: stats.storedBytes,
    packs: stats.packs,
    packBytes: stats.packBytes,
    dedupRatio: ratio(logicalBytes, stats.rawBytes),
    compressionRatio: ratio(stats.rawBytes, stats.storedBytes),
    reductionRatio: ratio(logicalBytes, stats.storedBytes),
    measuredAt: stats.measuredAt,
    ...(stats.objectStore !== undefined ? { objectStore: stats.objectStore } : {})
  }
}

const NO_RETENTION: MachineRetention = { policy: null, policySource: null, wouldRemove: [], locked: 0, lockedUntil: null }

function machineOverviews (records: PointRecord[], self: string, name: PeerNamer, retention: RetentionShow): MachineOverview[] {
  const byMachine = new Map<string, PointRecord[]>()
  for (const r of records) {
    const key = [r.tenant, r.origin, r.machine].join('\u0000')
    let list = byMachine.get(key)
    if (list === undefined) byMachine.set(key, list = [])
    list.push(r)
  }
  const out: MachineOverview[] = []
  for (const list of byMachine.values()) {
    list.sort((a, b) => a.seq - b.seq || a.createdAt.localeCompare(b.createdAt))
    const newest = list[list.length - 1]
    const complete = list.filter(r => r.complete).length
    const ids = new Set(list.map(r => r.point))
    const policy = retention.machines.find(m => m.tenant === newest.tenant && m.origin.peerId === newest.origin && m.machine === newest.machine)
    out.push({
      machine: newest.machine,
      tenant: newest.tenant,
      origin: name(newest.origin),
      cluster: newest.cluster,
      direction: newest.tenant === '' && newest.origin === self ? 'local' : 'incoming',
      receivedFrom: newest.receivedFrom == null ? null : name(newest.receivedFrom),
      pointCount: list.length,
      complete,
      orphans: list.length - complete,
      logicalBytes: list.reduce((sum, r) => sum + volumeBytes(r), 0),
      points: list.slice(-POINTS_SHOWN).map(r => pointOverview(r, r.parent !== null && ids.has(r.parent), name)),
      retention: policy === undefined ? NO_RETENTION : { policy: policy.policy, policySource: policy.policySource, wouldRemove: policy.wouldRemove, locked: policy.locked, lockedUntil: policy.lockedUntil }
    })
  }
  // own machines first, then by tenant and name
  return out.sort((a, b) => Number(a.direction !== 'local') - Number(b.direction !== 'local') ||
    a.tenant.localeCompare(b.tenant) || a.machine.localeCompare(b.machine) || a.origin.peerId.localeCompare(b.origin.peerId))
}

function pointOverview (r: PointRecord, parentPresent: boolean, name: PeerNamer): PointOverview {
  let files = 0
  for (const v of Object.values(r.volumes)) files += v.files
  return {
    point: r.point,
    seq: r.seq,
    kind: r.kind,
    parent: r.parent,
    parentPresent: r.parent === null ? null : parentPresent,
    complete: r.complete,
    missingBlocks: r.missing,
    skipped: r.skipped ?? 0,
    createdAt: r.createdAt,
    receivedAt: r.receivedAt ?? null,
    origin: name(r.origin),
    tenant: r.tenant,
    files,
    bytes: volumeBytes(r)
  }
}

function volumeBytes (r: PointRecord): number {
  let bytes = 0
  for (const v of Object.values(r.volumes)) bytes += v.bytes
  return bytes
}

/**
 * Replication lag: the age of the newest point of the rule's machine that is not on the target
 * yet, 0 when the target has them all. Rules name a machine as `web01` or `tenant/web01`.
 */
function lagOf (rule: Omit<RuleOverview, 'lagSeconds'>, machines: MachineOverview[], now: Date): number | null {
  const slash = rule.machine.indexOf('/')
  const tenant = slash >= 0 ? rule.machine.slice(0, slash) : undefined
  const name = slash >= 0 ? rule.machine.slice(slash + 1) : rule.machine
  const candidates = machines.filter(m => m.machine === name && (tenant === undefined ? m.tenant === '' || m.direction === 'incoming' : m.tenant === tenant))
  const newest = candidates.map(m => m.points[m.points.length - 1]).filter(p => p !== undefined)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0]
  if (newest === undefined) return null
  const behind = rule.pointsBehind ?? (rule.lastPoint === newest.point ? 0 : 1)
  if (behind === 0) return 0
  return Math.max(0, Math.round((now.getTime() - Date.parse(newest.createdAt)) / 1000))
}

function withHealth (peer: PeerInfo, rules: RuleOverview[], deniedByUs: boolean): PeerOverview {
  const [health, healthReason] = healthOf(peer, rules, deniedByUs)
  return { ...peer, health, healthReason }
}

function healthOf (peer: PeerInfo, rules: RuleOverview[], deniedByUs: boolean): [PeerHealth, string] {
  if (peer.state === 'denied') return ['error', deniedByUs ? 'denied by this Core' : 'it denied this Core']
  const failing = rules.find(r => r.state === 'error' && r.error != null)
  if (peer.online && failing != null) return ['error', failing.error ?? 'replication fails']
  if (!peer.online) return ['offline', peer.state === 'approved' ? 'offline: no connection now' : `offline, ${peer.state === 'pending' ? 'asks to pair' : 'pairing request sent'}`]
  if (peer.state === 'pending') return ['paused', 'asks to pair: approve, deny or ignore']
  if (peer.state === 'requested') return ['paused', 'waiting for its approval']
  if (rules.length > 0 && rules.every(r => r.paused === true || r.state === 'paused')) return ['paused', 'replication paused']
  return ['connected', 'connected']
}
