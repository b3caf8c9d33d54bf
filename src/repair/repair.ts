import type { CID } from 'multiformats/cid'
import type { ProgressFn } from '../api/operations.ts'
import { CorruptBlockError, isExpectedError, MalformedError, MissingBlockError, NotFoundError } from '../errors.ts'
import { AmbiguousNameError } from '../points/errors.ts'
import type { EventSink } from '../events/api.ts'
import { isRaw } from '../points/blocks.ts'
import { missingBlocks } from '../points/closure.ts'
import { loadManifest, parsePointId } from '../points/manifest.ts'
import type { PointIndex } from '../points/point-index.ts'
import type { PeerRegistry } from '../peers/index.ts'
import { peerLabel } from '../peers/record.ts'
import { planRule } from '../rules/index.ts'
import type { RuleRecord } from '../rules/index.ts'
import type { BlockStore } from '../store/api.ts'
import type { PeerAsked, RepairReport } from './api.ts'

export interface RepairDeps {
  store: BlockStore
  points: PointIndex
  peers: PeerRegistry
  rules: { list: () => Promise<RuleRecord[]> }
  events: EventSink
  /** the replication engine while the Core runs; without it only local copies are used */
  network?: PeerRepair
}

/** Asks a peer for good copies of what this Core lacks of `points` (`/drcore/repair/1`). */
export interface PeerRepair {
  repairFrom: (peer: string, points: string[], onBlock?: (bytes: number) => void) => Promise<PeerPull>
}

/** What one peer sent. */
export interface PeerPull {
  /** blocks received and stored */
  blocks: number
  bytes: number
  /** blocks received while each point's closure was walked, by point id */
  byPoint: Record<string, number>
}

export interface RepairOptions {
  /** ask only this peer (name or peer id) */
  from?: string
  onProgress?: ProgressFn
}

/** Rounds of the pack scan: a node found may reveal children that are missing too. */
const MAX_LOCAL_ROUNDS = 16

/**
 * `drcore repair`: rebuilds what it can of every damaged point (one that was complete and lost
 * blocks, see `drcore verify`) and of every block in quarantine.
 *
 * 1. Here: quarantined copies that read well again are taken back (`reinstate`), then the packs
 *    are searched for another good copy of each block that is missing or damaged (`salvage`).
 * 2. Peers, while the Core runs: for each point still damaged, the peers that hold it, or only
 *    `from`. A point this Core received from a peer is asked of that peer (its source); a point
 *    of a machine this Core replicates is asked of the rules' targets. Each is asked over
 *    `/drcore/repair/1` for exactly the blocks absent here.
 * 3. Completeness is checked again and reported per point.
 */
export async function repair (deps: RepairDeps, options: RepairOptions = {}): Promise<RepairReport> {
  const started = performance.now()
  const only = options.from === undefined ? undefined : peerOf(deps.peers, options.from)
  const damaged = await damagedPoints(deps.points)
  const report: RepairReport = { ok: true, points: [], reinstated: 0, foundLocally: 0, fetched: 0, peers: [], quarantined: 0, peersNotAsked: null, seconds: 0 }
  const quarantinedBefore = await countDamaged(deps.store)
  if (damaged.length === 0 && quarantinedBefore === 0) return finish(deps, report, started)

  options.onProgress?.({ phase: 'repair: copies in this repository', done: 0, unit: 'blocks' })
  report.reinstated = (await deps.store.reinstate()).length
  report.foundLocally = await salvageLocally(deps, damaged)
  let still = await recheck(deps, damaged)

  const from = new Map<string, Set<string>>(damaged.map(id => [id, new Set()]))
  if (still.length > 0 && deps.network === undefined) {
    report.peersNotAsked = 'the Core is not running, so no peer was asked: start it (drcore start) and run drcore repair again'
  } else if (still.length > 0) {
    const candidates = only !== undefined ? new Map(still.map(id => [id, [only]])) : await holders(deps, still)
    const order = [...new Set([...candidates.values()].flat())]
    if (order.length === 0) report.peersNotAsked = 'no peer holds these points: this Core neither received them from a peer nor replicates them to one (name one with --from)'
    for (const peer of order) {
      const ids = still.filter(id => candidates.get(id)?.includes(peer) === true)
      if (ids.length === 0) continue
      const name = deps.peers.get(peer)?.name ?? null
      const label = labelOf(deps.peers, peer)
      const asked: PeerAsked = { peerId: peer, name, blocks: 0, bytes: 0, error: null }
      report.peers.push(asked)
      try {
        const pull = await deps.network!.repairFrom(peer, ids, bytes => {
          asked.blocks++
          asked.bytes += bytes
          options.onProgress?.({ phase: `repair: from ${label}`, done: asked.bytes, unit: 'bytes' })
        })
        asked.blocks = pull.blocks
        asked.bytes = pull.bytes
        for (const [id, blocks] of Object.entries(pull.byPoint)) if (blocks > 0) from.get(id)?.add(peer)
      } catch (err) {
        if (!isExpectedError(err)) throw err
        asked.error = err.message
      }
      report.fetched += asked.blocks
      still = await recheck(deps, still)
      if (still.length === 0) break
    }
  }
  // good copies arrived: orphans that lacked them may be whole too
  await deps.points.recheckOrphans(deps.store)

  for (const id of damaged) {
    const records = await deps.points.records(id)
    const record = records.find(r => r.tenant === '') ?? records[0]
    if (record === undefined) continue
    report.points.push({ point: id, machine: record.machine, tenant: record.tenant, state: record.complete ? 'whole' : 'still damaged', missingBlocks: record.complete ? 0 : record.missing, from: [...from.get(id)!].map(peerId => ({ peerId, name: deps.peers.get(peerId)?.name ?? null })) })
  }
  report.ok = report.points.every(p => p.state === 'whole')
  report.quarantined = await countDamaged(deps.store)
  return finish(deps, report, started)
}

function finish (deps: RepairDeps, report: RepairReport, started: number): RepairReport {
  report.seconds = (performance.now() - started) / 1000
  const whole = report.points.filter(p => p.state === 'whole').length
  const lost = report.points.length - whole
  const summary = report.points.length === 0
    ? 'repair found nothing damaged'
    : `repair made ${whole} of ${report.points.length} damaged points whole${lost > 0 ? `; ${lost} still damaged` : ''}`
  deps.events.emit('repair.finished', summary, {
    points: report.points.length, whole, stillDamaged: lost, reinstated: report.reinstated, foundLocally: report.foundLocally, fetched: report.fetched, quarantined: report.quarantined
  }, lost > 0 ? 'warning' : 'info')
  return report
}

/** The ids of damaged points (any tenant), by machine and age. */
async function damagedPoints (points: PointIndex): Promise<string[]> {
  const records = (await points.all()).filter(r => r.damaged === true)
  records.sort((a, b) => a.machine.localeCompare(b.machine) || a.tenant.localeCompare(b.tenant) || a.seq - b.seq)
  return [...new Set(records.map(r => r.point))]
}

async function countDamaged (store: BlockStore): Promise<number> {
  let n = 0
  for await (const _ of store.damaged()) n++
  return n
}

/**
 * Searches the packs for good copies of the quarantined blocks and of the blocks the damaged
 * points lack; again while copies of nodes turn up (their children may be missing too).
 * Returns how many blocks it restored.
 */
async function salvageLocally (deps: RepairDeps, damaged: string[]): Promise<number> {
  const tried = new Set<string>()
  let restored = 0
  for (let round = 0; round < MAX_LOCAL_ROUNDS; round++) {
    const wanted = new Map<string, CID>()
    const want = (cid: CID): void => { if (!tried.has(cid.toString())) wanted.set(cid.toString(), cid) }
    for await (const d of deps.store.damaged()) want(d.cid)
    for (const id of damaged) for (const cid of await absentBlocks(deps.store, id)) want(cid)
    if (wanted.size === 0) break
    for (const key of wanted.keys()) tried.add(key)
    const found = await deps.store.salvage(wanted.values())
    restored += found.length
    if (!found.some(cid => !isRaw(cid))) break
  }
  return restored
}

/** The blocks of a point's closure that are absent here (its manifest, when that is gone). */
async function absentBlocks (store: BlockStore, id: string): Promise<CID[]> {
  try {
    return (await missingBlocks(store, await loadManifest(store, id), { limit: Number.MAX_SAFE_INTEGER })).cids
  } catch (err) {
    if (err instanceof MissingBlockError || err instanceof CorruptBlockError) return [parsePointId(id)]
    throw err
  }
}

/** Checks each point's closure again and stores the result; returns the ids still incomplete. */
async function recheck (deps: RepairDeps, ids: string[]): Promise<string[]> {
  const still: string[] = []
  for (const id of ids) {
    let complete: boolean
    try {
      complete = (await deps.points.checkCompleteness(deps.store, id))[0].complete
    } catch (err) {
      if (!(err instanceof MissingBlockError || err instanceof CorruptBlockError || err instanceof MalformedError)) throw err
      await deps.points.setCompleteness(id, false, 1) // its manifest is gone
      complete = false
    }
    if (!complete) still.push(id)
  }
  return still
}

/**
 * The peers that hold each point: the peer it was received from (its source, or the target it
 * was fetched back from), and the targets of this Core's rules that send it.
 */
async function holders (deps: RepairDeps, ids: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>(ids.map(id => [id, []]))
  const add = (id: string, peer: string): void => {
    const list = out.get(id)
    if (list !== undefined && !list.includes(peer)) list.push(peer)
  }
  for (const id of ids) for (const record of await deps.points.records(id)) if (record.receivedFrom !== undefined) add(id, record.receivedFrom)
  for (const rule of await deps.rules.list()) {
    let plan
    try {
      plan = await planRule(deps.points, rule)
    } catch (err) {
      if (err instanceof AmbiguousNameError) continue // an ambiguous machine name: the rule sends nothing
      throw err
    }
    for (const p of plan.points) if (p.reason !== 'target') add(p.record.point, rule.to)
  }
  return out
}

/** `--from`: a known peer by name or peer id, in one line otherwise. */
function peerOf (peers: PeerRegistry, peer: string): string {
  try {
    return peers.resolve(peer).peerId
  } catch (err) {
    if (err instanceof NotFoundError) throw new NotFoundError(`--from: unknown peer ${peer}: drcore peer list shows the peers this Core knows`)
    throw err
  }
}

function labelOf (peers: PeerRegistry, peer: string): string {
  const record = peers.get(peer)
  return record === undefined ? peer : peerLabel(record)
}
