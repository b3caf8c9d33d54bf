import { EventEmitter } from 'node:events'
import type { ProgressFn } from '../api/operations.ts'
import { NotAuthorizedError, NotFoundError } from '../errors.ts'
import type { EventSink } from '../events/api.ts'
import { emitRetentionEvent } from '../events/retention.ts'
import type { DrcoreNode, WireStream } from '../net/index.ts'
import type { PeerRegistry } from '../peers/index.ts'
import { peerLabel } from '../peers/record.ts'
import type { PointIndex } from '../points/point-index.ts'
import {
  FETCH_PROTOCOL, FETCH_PROTOCOL_V2, MAX_CIDS_PER_MESSAGE, REPAIR_PROTOCOL, REPAIR_PROTOCOL_V2, REPLICATE_PROTOCOL, REPLICATE_PROTOCOL_V2
} from '../protocol/index.ts'
import { MAX_STREAMS, planRule } from '../rules/index.ts'
import type { RuleRecord } from '../rules/index.ts'
import type { BlockStore } from '../store/api.ts'
import type { TenantBlocks, TenantQuotas, TenantSettings } from '../tenants/index.ts'
import type { ReplicationCursors } from './cursors.ts'
import { fetchPoints } from './fetch.ts'
import { serveFetch } from './fetch-server.ts'
import { checkSeeds, runJob } from './job.ts'
import type { SeedDrives } from './job.ts'
import { serveReplicate } from './receiver.ts'
import { pullRepair } from './repair-client.ts'
import type { PeerPull } from './repair-client.ts'
import { serveRepair } from './repair-server.ts'
import { ReplicationSession } from './sender.ts'
import { RemoteError } from '../net/index.ts'
import type { EngineMetrics, EngineOptions, FetchResult, JobProgress, JobResult, PointReceived } from './api.ts'
import type { PointPins } from '../points/pins.ts'

/**
 * What the engine needs of a Core: its stores, its peers and its running node. The composition
 * root (src/core/network.ts) hands over the Core's one instance of each.
 */
export interface EngineParts {
  /** this Core's peer id */
  self: string
  store: BlockStore
  points: PointIndex
  events: EventSink
  peers: PeerRegistry
  node: DrcoreNode
  /** per target and machine, the last point acknowledged */
  cursors: ReplicationCursors
  /** which blocks each tenant delivered */
  tenants: TenantBlocks
  /** each tenant's retention lock (a peer's `remove-machine` may not break it) */
  tenantSettings: Pick<TenantSettings, 'get'>
  /** each tenant's quota (a block that would pass it is refused before it is stored) */
  quotas: Pick<TenantQuotas, 'reserve' | 'release'>
  /** the rules: the repair protocol serves a peer the points of the rules that send to it */
  rules: { list: () => Promise<RuleRecord[]> }
  /** the seed drives this Core wrote (a job notices when the target consumed one) */
  seeds: SeedDrives
  /** a point being sent is pinned against garbage collection until its offer ends */
  pins?: PointPins
}

const DEFAULTS: Required<EngineOptions> = {
  flushBytes: 8 * 1024 * 1024,
  flushIntervalMs: 1000,
  batchSize: MAX_CIDS_PER_MESSAGE,
  pipeline: 2,
  timeout: 60_000,
  ackTimeout: 10 * 60_000,
  protocolVersions: [2, 1],
  inboundReplicateStreams: 2 * MAX_STREAMS
}

/** Each service's protocol id by version. */
const PROTOCOLS = {
  replicate: { 1: REPLICATE_PROTOCOL, 2: REPLICATE_PROTOCOL_V2 },
  fetch: { 1: FETCH_PROTOCOL, 2: FETCH_PROTOCOL_V2 },
  repair: { 1: REPAIR_PROTOCOL, 2: REPAIR_PROTOCOL_V2 }
} as const
type Service = keyof typeof PROTOCOLS

/**
 * Replication between Cores (docs/protocol.md): the source side of jobs (`replicate`), the
 * target side of `/drcore/replicate/1` and `/drcore/fetch/1`, and the owner side of fetch.
 *
 * The engine moves points; when to move them is the scheduler's business (src/scheduler/). It
 * keeps the replication cursors (per target and machine, the last point acknowledged) and each
 * tenant's block references (src/tenants/), and tells listeners about points that arrive so
 * rules can forward them (multi-hop).
 */
export class ReplicationEngine {
  readonly metrics: EngineMetrics = { messagesSent: {}, blocksSent: 0, bytesSent: 0, frameBytesSent: 0, blocksReceived: 0, bytesReceived: 0, wireBytesSent: 0, wireBytesReceived: 0, streams: {} }
  /** counts the bytes of every frame on this engine's streams */
  readonly #onBytes = (direction: 'sent' | 'received', bytes: number): void => {
    if (direction === 'sent') this.metrics.wireBytesSent += bytes
    else this.metrics.wireBytesReceived += bytes
  }

  readonly #core: EngineParts
  readonly #options: Required<EngineOptions>
  readonly #received = new EventEmitter<{ point: [PointReceived] }>()

  constructor (parts: EngineParts, options: EngineOptions = {}) {
    this.#core = parts
    this.#options = { ...DEFAULTS, ...options, batchSize: Math.min(options.batchSize ?? DEFAULTS.batchSize, MAX_CIDS_PER_MESSAGE) }
    this.#received.setMaxListeners(0)
  }

  /**
   * Serves replicate and fetch (each version in `protocolVersions`) to approved peers, and
   * repair to approved peers and to the peers this Core sends to.
   */
  async start (): Promise<void> {
    const { store, points, peers, events } = this.#core
    const deps = {
      store,
      points,
      peers,
      events,
      tenants: this.#core.tenants,
      settings: this.#core.tenantSettings,
      quotas: this.#core.quotas,
      metrics: this.metrics,
      self: this.#core.self,
      intake: { flushBytes: this.#options.flushBytes, flushIntervalMs: this.#options.flushIntervalMs },
      received: (event: PointReceived) => { this.#received.emit('point', event) },
      label: (peerId: string) => this.#label(peerId),
      shares: new Map()
    }
    const options = { timeout: this.#options.timeout, onBytes: this.#onBytes }
    for (const protocol of this.#protocols('replicate')) {
      // a job opens up to MAX_STREAMS streams at once (--streams), and two jobs may overlap
      await this.#core.node.handle(protocol, async (wire, { peer }) => { await serveReplicate(deps, this.#counted(wire), peer.toString()) }, {
        ...options, maxInboundStreams: this.#options.inboundReplicateStreams
      })
    }
    for (const protocol of this.#protocols('fetch')) {
      await this.#core.node.handle(protocol, async (wire, { peer }) => { await serveFetch(deps, this.#counted(wire), peer.toString()) }, options)
    }
    for (const protocol of this.#protocols('repair')) {
      await this.#core.node.handle(protocol, async (wire, { peer }) => { await serveRepair({ ...deps, rules: this.#core.rules }, this.#counted(wire), peer.toString()) }, {
        ...options,
        admits: (peer) => peers.canSendTo(peer)
      })
    }
  }

  async stop (): Promise<void> {
    for (const service of Object.keys(PROTOCOLS) as Service[]) {
      for (const protocol of this.#protocols(service)) await this.#core.node.unhandle(protocol)
    }
  }

  /** Counts a stream by the protocol negotiated for it (`metrics.streams`). */
  #counted (wire: WireStream): WireStream {
    const protocol = wire.stream.protocol
    this.metrics.streams[protocol] = (this.metrics.streams[protocol] ?? 0) + 1
    return wire
  }

  /** The service's protocol ids this Core speaks, preferred first. */
  #protocols (service: Service): string[] {
    return this.#options.protocolVersions.map(version => PROTOCOLS[service][version])
  }

  /**
   * One job for one rule: every point of the rule's machine (and its cluster's) that the target
   * lacks, oldest first; honours `rule.limit` and the seed-drive state. Aborting `signal` ends
   * the job at once; what the target acknowledged or stored stays.
   */
  async replicate (rule: RuleRecord, options: { signal?: AbortSignal, onProgress?: (p: JobProgress) => void } = {}): Promise<JobResult> {
    return await runJob(this.#jobDeps(), rule, options)
  }

  #jobDeps (): Parameters<typeof runJob>[0] {
    return {
      store: this.#core.store,
      points: this.#core.points,
      cursors: this.#core.cursors,
      events: this.#core.events,
      metrics: this.metrics,
      open: async (to, signal, protocols) => await this.#open(to, protocols ?? this.#protocols('replicate'), signal),
      label: (to) => this.#label(to),
      batchSize: this.#options.batchSize,
      pipeline: this.#options.pipeline,
      ackTimeout: this.#options.ackTimeout,
      seeds: this.#core.seeds,
      pins: this.#core.pins
    }
  }

  /**
   * Asks the target whether the rule's outstanding seeds arrived (no point is sent); see
   * `checkSeeds` in job.ts. Bounded by a short deadline: it runs when the operator looks.
   */
  async checkSeeds (rule: RuleRecord): Promise<{ asked: boolean, consumed: boolean }> {
    return await checkSeeds(this.#jobDeps(), rule, AbortSignal.timeout(5_000))
  }

  /**
   * How many points of the rule's machines the target lacks, from the cursors and this Core's
   * points alone (no network): points newer than the machine's cursor, points waiting for a
   * seed drive, and points the target said it lacks at the last job's status (it lost blocks
   * of them since they were acknowledged). Points that came from the target are not counted.
   */
  async pointsBehind (rule: RuleRecord): Promise<number> {
    const plan = await planRule(this.#core.points, rule)
    let behind = 0
    const cursors = new Map<unknown, { seq: number, lacking: Set<string> }>()
    for (const m of plan.machines) {
      cursors.set(m, { seq: (await this.#core.cursors.get(rule.to, m))?.seq ?? 0, lacking: await this.#core.cursors.lacking(rule.to, m) })
    }
    for (const p of plan.points) {
      if (p.reason === 'target') continue
      const cursor = cursors.get(p.machine)!
      if (p.reason === 'seed' || p.record.seq > cursor.seq || cursor.lacking.has(p.record.point)) behind++
    }
    return behind
  }

  /**
   * `replication remove --delete-remote`: the target deletes this Core's tenant's points of the
   * machine (and of its cluster's machines); the link's cursors are forgotten.
   */
  async deleteRemote (machine: string, to: string): Promise<void> {
    const plan = await planRule(this.#core.points, { machine, to, seedDrive: false, seedState: null, seedPoints: [] })
    const names = plan.machines.length > 0 ? [...new Set(plan.machines.map(m => m.machine))] : [machine.slice(machine.lastIndexOf('/') + 1)]
    const wire = await this.#open(to, this.#protocols('replicate'))
    try {
      const session = new ReplicationSession(wire, { store: this.#core.store, metrics: this.metrics, batchSize: 1, pipeline: 1, ackTimeout: this.#options.ackTimeout })
      let removed = 0
      for (const name of names) {
        removed += await session.removeMachine(name)
        await this.#core.cursors.clear(to, name)
      }
      await wire.close()
      this.#core.events.emit('replication.remote-deleted', `${this.#label(to)} deleted ${removed} points of ${names.join(', ')}`, { machine, to, machines: names, removed })
    } catch (err) {
      wire.abort(err instanceof Error ? err : new Error(String(err)))
      if (err instanceof RemoteError && err.code === 'refused') {
        // e.g. the target's retention lock keeps them: its operator's decision, said here too
        emitRetentionEvent(this.#core.events, 'replication.remote-delete-refused', `${this.#label(to)} refused to delete the points of ${names.join(', ')}: ${err.message}`, {
          machine, to, reason: err.message
        }, 'warning')
      }
      throw err
    }
  }

  /** `drcore fetch`: copies a machine's points back from a peer that holds them in this Core's tenant. */
  async fetch (options: { machine: string, from: string, point?: string, onProgress?: ProgressFn }): Promise<FetchResult> {
    const wire = await this.#open(options.from, this.#protocols('fetch'))
    return await fetchPoints({
      store: this.#core.store,
      points: this.#core.points,
      events: this.#core.events,
      metrics: this.metrics,
      tenants: this.#core.tenants,
      intake: { flushBytes: this.#options.flushBytes, flushIntervalMs: this.#options.flushIntervalMs },
      batchSize: this.#options.batchSize
    }, wire, { ...options, from: options.from, label: this.#label(options.from) })
  }

  /**
   * `drcore repair`: asks `peer` for good copies of what this Core lacks of `points` (blocks gone
   * or damaged here), over `/drcore/repair/1`. The peer serves them when it approved this Core
   * (this Core's tenant there) or sends to it (the points it replicates here).
   */
  async repairFrom (peer: string, points: string[], onBlock?: (bytes: number) => void): Promise<PeerPull> {
    const peers = this.#core.peers
    const record = peers.get(peer)
    if (record === undefined) throw new NotFoundError(`unknown peer: ${peer}`)
    if (!peers.canSendTo(peer) && !peers.isAccepted(peer)) {
      throw new NotAuthorizedError(`peer ${peerLabel(record)} and this Core do not replicate to each other (neither approved the other), so it holds nothing of this Core's to repair from`)
    }
    const label = peerLabel(record)
    const wire = this.#counted(await this.#core.node.open(peer, this.#protocols('repair'), { addresses: record.addresses, label, timeout: this.#options.timeout, onBytes: this.#onBytes }))
    return await pullRepair({
      store: this.#core.store,
      tenants: this.#core.tenants,
      metrics: this.metrics,
      intake: { flushBytes: this.#options.flushBytes, flushIntervalMs: this.#options.flushIntervalMs },
      batchSize: this.#options.batchSize
    }, wire, label, peers.tenantOf(peer) ?? '', points, onBlock)
  }

  /** Calls `listener` after a point from a peer is committed here (new, or completed). */
  onPointReceived (listener: (event: PointReceived) => void): () => void {
    this.#received.on('point', listener)
    return () => { this.#received.off('point', listener) }
  }

  /** A stream to a peer that approved this Core (it would refuse us otherwise). */
  async #open (to: string, protocols: string[], signal?: AbortSignal): Promise<WireStream> {
    const record = this.#core.peers.get(to)
    if (record === undefined) throw new NotFoundError(`unknown peer: ${to}`)
    if (!this.#core.peers.canSendTo(to)) {
      throw new NotAuthorizedError(`peer ${peerLabel(record)} has not approved this Core (pairing: ${record.outbound}); ask it to approve or allow this Core`)
    }
    return this.#counted(await this.#core.node.open(to, protocols, {
      addresses: record.addresses,
      label: peerLabel(record),
      timeout: this.#options.timeout,
      onBytes: this.#onBytes,
      signal: signal === undefined ? undefined : AbortSignal.any([signal, AbortSignal.timeout(10_000)])
    }))
  }

  #label (peerId: string): string {
    const record = this.#core.peers.get(peerId)
    return record === undefined ? peerId : peerLabel(record)
  }
}
