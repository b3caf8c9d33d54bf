import type { ProgressFn } from '../api/operations.ts'
import { Throttle } from '../common/throttle.ts'
import { NotFoundError } from '../errors.ts'
import type { EventSink } from '../events/api.ts'
import type { WireStream } from '../net/index.ts'
import { decodeManifest } from '../points/manifest.ts'
import { pointRecord } from '../points/point-index.ts'
import type { PointIndex } from '../points/point-index.ts'
import type { BlockStore } from '../store/api.ts'
import { BlockIntake } from './block-intake.ts'
import { BlockPuller } from './pull.ts'
import type { IntakeOptions } from './block-intake.ts'
import type { TenantBlocks } from '../tenants/index.ts'
import { TRANSFER_PROGRESS_INTERVAL_MS } from './api.ts'
import type { EngineMetrics, FetchResult } from './api.ts'
import { countSent } from './sessions.ts'
import type { Message, MessageOf, MessageType, PointSummary } from '../protocol/index.ts'

export interface FetchDeps {
  store: BlockStore
  points: PointIndex
  events: EventSink
  metrics: EngineMetrics
  tenants: TenantBlocks
  intake: IntakeOptions
  /** CIDs per `want` */
  batchSize: number
}

export interface FetchOptions {
  machine: string
  /** peer id */
  from: string
  /** how the peer is named in messages */
  label: string
  /** one point instead of all */
  point?: string
  onProgress?: ProgressFn
}

/**
 * The owner's side of `/drcore/fetch/1`: lists the machine's points that `from` holds in this
 * Core's tenant, verifies each manifest's signature, pulls the blocks this Core lacks level by
 * level in batched `want`s, and records the points in this Core's own tenant (''). Points
 * already complete here are not fetched again. Closes (or aborts) `wire`.
 */
export async function fetchPoints (deps: FetchDeps, wire: WireStream, options: FetchOptions): Promise<FetchResult> {
  const started = performance.now()
  const machine = options.machine.slice(options.machine.lastIndexOf('/') + 1)
  const result: FetchResult = { machine, from: options.from, points: [], blocks: 0, bytes: 0, seconds: 0 }
  const session = new FetchSession(deps, wire, options, result)
  try {
    const listed = (await session.request({ type: 'list-points', machine }, 'points')).points
    const wanted = options.point === undefined ? listed : listed.filter(p => p.point.toString() === options.point)
    if (wanted.length === 0) {
      throw new NotFoundError(options.point === undefined
        ? `peer ${options.label} holds no points of ${machine} for this Core`
        : `peer ${options.label} holds no point ${options.point} of ${machine} for this Core`)
    }
    for (const summary of wanted) {
      await session.fetchPoint(summary)
      result.points.push(summary.point.toString())
    }
    await wire.close()
  } catch (err) {
    wire.abort(err instanceof Error ? err : new Error(String(err)))
    throw err
  }
  result.seconds = (performance.now() - started) / 1000
  deps.events.emit('replication.fetched', `fetched ${result.points.length} points of ${machine} from ${options.label}: ${result.blocks} blocks, ${result.bytes} bytes in ${result.seconds.toFixed(1)} s`, {
    machine, from: options.from, points: result.points, blocks: result.blocks, bytes: result.bytes, seconds: result.seconds
  })
  return result
}

class FetchSession {
  readonly #deps: FetchDeps
  readonly #wire: WireStream
  readonly #options: FetchOptions
  readonly #result: FetchResult
  readonly #progress = new Throttle(TRANSFER_PROGRESS_INTERVAL_MS)

  constructor (deps: FetchDeps, wire: WireStream, options: FetchOptions, result: FetchResult) {
    this.#deps = deps
    this.#wire = wire
    this.#options = options
    this.#result = result
  }

  async fetchPoint (summary: PointSummary): Promise<void> {
    const { points } = this.#deps
    const id = summary.point.toString()
    const existing = await points.get(id, '')
    if (existing?.complete === true) return
    const reply = await this.request({ type: 'get-point', point: summary.point }, 'point')
    const signed = await decodeManifest(reply.manifest, summary.point)
    const intake = new BlockIntake(this.#deps.store, this.#deps.tenants, '', this.#deps.intake, { from: this.#options.label })
    try {
      const puller = new BlockPuller(this.#wire, {
        store: this.#deps.store,
        intake,
        batchSize: this.#deps.batchSize,
        label: this.#options.label,
        send: async m => { await this.#send(m) },
        onBlock: (_cid, size) => { this.#received(size) }
      })
      const missing = await puller.pull(Object.values(signed.manifest.volumes).map(v => v.root))
      const record = pointRecord(signed, { tenant: '', complete: missing === 0, missing, receivedFrom: this.#options.from, receivedAt: new Date().toISOString() })
      await intake.commit([{ cid: signed.id, bytes: signed.bytes }], existing === undefined ? points.recordOps(record) : [])
      if ((await points.records(id)).some(r => r.complete !== (missing === 0))) await points.setCompleteness(id, missing === 0, missing)
      // good copies of blocks damaged here arrived: other points that lost them may be whole again
      if (intake.stats.healed > 0) await points.recheckOrphans(this.#deps.store)
    } finally {
      await intake.close()
    }
  }

  #received (bytes: number): void {
    this.#result.blocks++
    this.#result.bytes += bytes
    this.#deps.metrics.blocksReceived++
    this.#deps.metrics.bytesReceived += bytes
    if (this.#options.onProgress !== undefined && this.#progress.ready()) {
      this.#options.onProgress({ phase: 'fetch', done: this.#result.bytes, unit: 'bytes', detail: this.#options.machine })
    }
  }

  async #send (message: Message): Promise<void> {
    countSent(this.#deps.metrics, message.type)
    await this.#wire.send(message)
  }

  async request<T extends MessageType> (message: Message, reply: T): Promise<MessageOf<T>> {
    await this.#send(message)
    return await this.#wire.expect(reply)
  }
}
