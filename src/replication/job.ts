import { CID } from 'multiformats/cid'
import { throttled } from '../common/throttle.ts'
import type { EventSink } from '../events/api.ts'
import type { WireStream } from '../net/index.ts'
import { loadManifest } from '../points/manifest.ts'
import type { MachineRecord, SignedPoint } from '../points/api.ts'
import type { PointIndex } from '../points/point-index.ts'
import type { BlockStore } from '../store/api.ts'
import type { ReplicationCursors } from './cursors.ts'
import { DEFAULT_STREAMS, planRule } from '../rules/index.ts'
import type { PlannedPoint, RulePlan, RuleRecord } from '../rules/index.ts'
import { ReplicationSession } from './sender.ts'
import { TokenBucket } from './token-bucket.ts'
import { blockedNote } from './blocked-note.ts'
import { TRANSFER_PROGRESS_INTERVAL_MS } from './api.ts'
import type { EngineMetrics, JobProgress, JobResult } from './api.ts'
import { FORGOTTEN_BY_RETENTION } from '../protocol/index.ts'
import type { PointSummary } from '../protocol/index.ts'
import type { PointPins } from '../points/pins.ts'

export interface JobDeps {
  store: BlockStore
  points: PointIndex
  cursors: ReplicationCursors
  events: EventSink
  metrics: EngineMetrics
  /**
   * opens a replicate stream to the target (checks that it approved this Core), on one of
   * `protocols` (default: every version this Core speaks, newest first)
   */
  open: (to: string, signal?: AbortSignal, protocols?: string[]) => Promise<WireStream>
  /** how the target is named in messages */
  label: (to: string) => string
  batchSize: number
  pipeline: number
  ackTimeout: number
  /** the seeds this Core wrote: a job learns from the target's status when one was consumed */
  seeds?: SeedDrives
  /** points being sent are pinned against garbage collection (docs/retention.md) */
  pins?: PointPins
}

/** What a job needs of the seed drives this Core wrote (the seed registry provides it). */
export interface SeedDrives {
  /** the outstanding seeds written for the rule */
  outstanding: (rule: RuleRecord) => Promise<OutstandingSeed[]>
  /** records that the target holds the seed */
  markConsumed: (seed: string) => Promise<unknown>
}

/** A seed drive written for a rule's target and not known to be consumed there yet. */
export interface OutstandingSeed {
  seed: string
  /** names of the machines it carries */
  machines: string[]
  points: string[]
}

export interface JobOptions {
  signal?: AbortSignal
  onProgress?: (p: JobProgress) => void
}

/**
 * One replication job for one rule (docs/protocol.md, "A job"): every point of the rule's
 * machines that the target lacks, oldest first, each as its delta against the link's cursor.
 * The target's status is asked once per machine, so a job with nothing new costs one round trip.
 * What the target acknowledged stays acknowledged when the job fails or is cancelled.
 */
export async function runJob (deps: JobDeps, rule: RuleRecord, options: JobOptions = {}): Promise<JobResult> {
  return await new ReplicationJob(deps, rule, options).run()
}

class ReplicationJob {
  readonly #deps: JobDeps
  readonly #rule: RuleRecord
  readonly #options: JobOptions
  /** how the target is named in messages */
  readonly #to: string
  readonly #started = performance.now()
  readonly #result: JobResult = { sent: [], skipped: [], bytesSent: 0, blocksSent: 0, seconds: 0, streams: 0, lastPoint: null, pointsBehind: 0, blocked: [] }
  /** points the target holds complete, as far as this job knows */
  readonly #present = new Set<string>()
  /** points found damaged on this Core while they were sent (blocks it could not read) */
  readonly #damagedHere = new Set<string>()
  /** points the target's own retention removed: settled there, not behind */
  readonly #forgottenThere = new Set<string>()
  #plan: RulePlan = { machines: [], points: [] }
  #seedMode: boolean
  #wire: WireStream | undefined

  constructor (deps: JobDeps, rule: RuleRecord, options: JobOptions) {
    this.#deps = deps
    this.#rule = rule
    this.#options = options
    this.#to = deps.label(rule.to)
    this.#seedMode = rule.seedDrive && rule.seedState === 'outstanding'
  }

  async run (): Promise<JobResult> {
    const { signal } = this.#options
    const rule = this.#rule
    const result = this.#result
    const onAbort = (): void => { this.#wire?.abort(signal?.reason instanceof Error ? signal.reason : new Error('replication cancelled')) }
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      this.#plan = await planRule(this.#deps.points, rule)
      const seeds = this.#seedMode && this.#deps.seeds !== undefined ? await this.#deps.seeds.outstanding(rule) : []
      const candidates = this.#candidates()
      this.#deps.events.emit('replication.started', `replicating ${rule.machine} to ${this.#to}: ${candidates.length} points to check`, { machine: rule.machine, to: rule.to, points: candidates.length })
      signal?.throwIfAborted()
      // an outstanding seed is checked even when nothing is to be sent: its points may have
      // arrived; so is a point this Core cannot send (damaged or incomplete here): the target
      // may lack it, and the job then says so
      if (this.#covered().length > 0 || seeds.length > 0) await this.#exchange(seeds)
      for (const p of this.#plan.points) if (p.reason !== 'send') result.skipped.push(p.record.point)
      this.#finish()
      const state = result.pointsBehind === 0 ? 'up to date' : `${result.pointsBehind} points behind${blockedNote(result.blocked)}`
      this.#deps.events.emit('replication.finished', `replicated ${rule.machine} to ${this.#to}: ${result.sent.length} points, ${result.blocksSent} blocks, ${result.bytesSent} bytes in ${result.seconds.toFixed(1)} s; ${state}`, {
        machine: rule.machine, to: rule.to, points: result.sent.length, sent: result.sent, bytes: result.bytesSent, blocks: result.blocksSent, seconds: result.seconds, streams: result.streams, lastPoint: result.lastPoint, pointsBehind: result.pointsBehind, blocked: result.blocked
      }, result.blocked.some(b => b.why === 'damaged') ? 'warning' : 'info')
      return result
    } catch (err: any) {
      const cancelled = signal?.aborted === true
      this.#wire?.abort(err instanceof Error ? err : new Error(String(err)))
      this.#finish()
      const why = cancelled ? 'cancelled' : err?.message ?? String(err)
      this.#deps.events.emit('replication.failed', `replication of ${rule.machine} to ${this.#to} ${cancelled ? 'was cancelled' : `failed: ${why}`} after ${result.sent.length} points, ${result.bytesSent} bytes`, {
        machine: rule.machine, to: rule.to, error: why, points: result.sent.length, sent: result.sent, bytes: result.bytesSent, blocks: result.blocksSent, seconds: result.seconds
      }, cancelled ? 'warning' : 'error')
      throw cancelled ? signal!.reason : err
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  }

  /** The session with the target: status, then each point it lacks. */
  async #exchange (seeds: OutstandingSeed[]): Promise<void> {
    const deps = this.#deps
    const rule = this.#rule
    const wire = this.#wire = await deps.open(rule.to, this.#options.signal)
    this.#result.streams++
    const progress = progressReporter(this.#options.onProgress, this.#result)
    const session = new ReplicationSession(wire, {
      store: deps.store,
      metrics: deps.metrics,
      batchSize: deps.batchSize,
      pipeline: deps.pipeline,
      ackTimeout: deps.ackTimeout,
      // one bucket for every stream of the job: the limit is their total
      limiter: rule.limit != null ? new TokenBucket(rule.limit) : undefined,
      signal: this.#options.signal,
      streams: rule.streams ?? DEFAULT_STREAMS,
      openShare: async () => {
        // the protocol the session negotiated, so a peer that speaks only version 1 gets version 1 shares
        const share = await deps.open(rule.to, this.#options.signal, [wire.stream.protocol])
        this.#result.streams++
        return share
      },
      onSent: (s) => {
        this.#result.blocksSent += s.blocks
        this.#result.bytesSent += s.bytes
        progress.update(s.bytesToSend)
      }
    })
    const names = [...new Set([...this.#plan.machines.map(m => m.machine), ...seeds.flatMap(seed => seed.machines)])]
    const statuses = new Map((await session.status(names)).map((points, i) => [names[i], points]))
    if (seeds.length > 0 && await settleSeeds(deps, rule, seeds, statuses)) {
      // the target consumed the seed: its points are sent like any others from now on
      this.#seedMode = false
      this.#plan = await planRule(deps.points, { ...rule, seedState: 'consumed' })
    }
    for (const m of this.#plan.machines) {
      for (const s of statuses.get(m.machine) ?? []) if (s.origin === m.origin && s.complete) this.#present.add(s.point.toString())
    }
    // what the target lacks counts as behind until it is repaired, also points the cursor passed
    for (const m of this.#plan.machines) {
      const lacking = this.#covered().filter(p => p.machine === m && !this.#present.has(p.record.point)).map(p => p.record.point)
      await deps.cursors.setLacking(rule.to, m, lacking)
    }
    const candidates = this.#candidates()
    for (const p of candidates) if (this.#present.has(p.record.point)) await deps.cursors.advance(rule.to, p.machine, p.record)
    const toSend = candidates.filter(p => !this.#present.has(p.record.point))
    const bases = new Map<MachineRecord, SignedPoint | null>()
    try {
      for (const [i, p] of toSend.entries()) {
        progress.start({ point: p.record.point, machine: p.record.machine, pointIndex: i + 1, points: toSend.length })
        await this.#send(session, p, bases, statuses.get(p.machine.machine) ?? [])
        progress.update(undefined, true)
      }
      await wire.close()
    } finally {
      deps.metrics.frameBytesSent += wire.bytesWritten
    }
  }

  /**
   * Offers one point and records the outcome; `bases` holds each machine's last acknowledged
   * point, `held` the target's points of the machine at the status.
   */
  async #send (session: ReplicationSession, p: PlannedPoint, bases: Map<MachineRecord, SignedPoint | null>, held: PointSummary[]): Promise<void> {
    const deps = this.#deps
    const id = p.record.point
    // pinned, then checked: a prune reads the point index before the pins, so a point still
    // recorded once pinned was seen by it; a point forgotten since the plan is not sent
    const release = deps.pins?.pin([id])
    try {
      if (release !== undefined && await deps.points.get(id, p.record.tenant) === undefined) {
        this.#result.skipped.push(id)
        return
      }
      await this.#offer(session, p, bases, held)
    } finally {
      release?.()
    }
  }

  async #offer (session: ReplicationSession, p: PlannedPoint, bases: Map<MachineRecord, SignedPoint | null>, held: PointSummary[]): Promise<void> {
    const deps = this.#deps
    const id = p.record.point
    const signed = await loadManifest(deps.store, id)
    const base = this.#seedMode ? await parentOf(deps, p.machine, signed) : await deltaBase(deps, this.#rule.to, p, bases, held)
    const outcome = await session.offer(signed, { base, seed: this.#seedMode, repair: !this.#seedMode })
    if (outcome.kind === 'declined') {
      this.#result.skipped.push(id)
      if (outcome.reason.startsWith(FORGOTTEN_BY_RETENTION)) {
        this.#forgottenThere.add(id)
        return
      }
      deps.events.emit('replication.declined', `${this.#to} declined point ${id} of ${p.record.machine}: ${outcome.reason}`, { machine: p.record.machine, to: this.#rule.to, point: id, reason: outcome.reason }, 'warning')
      return
    }
    if (outcome.kind === 'acked' && outcome.unreadable > 0) {
      // this Core lost blocks of the point too: record it, so the point waits for a repair here
      this.#damagedHere.add(id)
      await deps.points.checkCompleteness(deps.store, id, signed)
    } else if (outcome.kind === 'acked') {
      this.#result.sent.push(id)
    }
    if (outcome.kind === 'present' || outcome.complete) {
      this.#present.add(id)
      await deps.cursors.advance(this.#rule.to, p.machine, p.record)
      bases.set(p.machine, signed)
    }
  }

  #candidates (): PlannedPoint[] {
    return this.#plan.points.filter(p => p.reason === 'send')
  }

  /** The points the target should hold: every point of the plan but those that came from it. */
  #covered (): PlannedPoint[] {
    return this.#plan.points.filter(p => p.reason !== 'target')
  }

  /**
   * Fills in the job's summary: the newest point on the target, how many it lacks, and which of
   * those this Core cannot send as it is.
   */
  #finish (): void {
    const covered = this.#covered()
    this.#result.lastPoint = covered.findLast(p => this.#present.has(p.record.point))?.record.point ?? null
    const behind = covered.filter(p => !this.#present.has(p.record.point) && !this.#forgottenThere.has(p.record.point))
    this.#result.pointsBehind = behind.length
    this.#result.blocked = behind
      .filter(p => p.reason === 'incomplete' || this.#damagedHere.has(p.record.point))
      .map(p => ({ point: p.record.point, why: p.record.damaged === true || this.#damagedHere.has(p.record.point) ? 'damaged' : 'incomplete' }))
    this.#result.seconds = (performance.now() - this.#started) / 1000
  }
}

/**
 * Asks the target about a seed-drive rule's outstanding seeds, without sending anything (when
 * the operator looks at the rule: `replication list`, `status`, `seed list`): a seed whose every
 * point the target now holds is marked consumed, and the link's cursors advance over the points
 * the target holds, so the rule stops counting them behind before its next job. `asked`: the
 * target was asked (the rule has a seed written for it); `consumed`: a seed was found consumed.
 */
export async function checkSeeds (deps: JobDeps, rule: RuleRecord, signal?: AbortSignal): Promise<{ asked: boolean, consumed: boolean }> {
  if (!rule.seedDrive || rule.seedState !== 'outstanding' || deps.seeds === undefined) return { asked: false, consumed: false }
  const seeds = await deps.seeds.outstanding(rule)
  if (seeds.length === 0) return { asked: false, consumed: false }
  const wire = await deps.open(rule.to, signal)
  try {
    const session = new ReplicationSession(wire, { store: deps.store, metrics: deps.metrics, batchSize: deps.batchSize, pipeline: deps.pipeline, ackTimeout: deps.ackTimeout, signal })
    const names = [...new Set(seeds.flatMap(seed => seed.machines))]
    const statuses = new Map((await session.status(names)).map((points, i) => [names[i], points]))
    const before = seeds.length
    await settleSeeds(deps, rule, seeds, statuses)
    const consumed = (await deps.seeds.outstanding(rule)).length < before
    const plan = await planRule(deps.points, { ...rule, seedState: 'consumed' })
    for (const m of plan.machines) {
      const held = new Set((statuses.get(m.machine) ?? []).filter(s => s.origin === m.origin && s.complete).map(s => s.point.toString()))
      // as a job records it: what the target lacks stays behind, what it holds advances the cursor
      const covered = plan.points.filter(p => p.machine === m && p.reason !== 'target')
      await deps.cursors.setLacking(rule.to, m, covered.filter(p => !held.has(p.record.point)).map(p => p.record.point))
      for (const p of covered) if (held.has(p.record.point)) await deps.cursors.advance(rule.to, m, p.record)
    }
    await wire.close()
    return { asked: true, consumed }
  } catch (err) {
    wire.abort(err instanceof Error ? err : new Error(String(err)))
    throw err
  }
}

/**
 * Marks the outstanding seeds whose every point the target now holds complete as consumed (the
 * target imported them); returns true when no seed of the rule is outstanding any more.
 */
async function settleSeeds (deps: JobDeps, rule: RuleRecord, seeds: OutstandingSeed[], statuses: Map<string, PointSummary[]>): Promise<boolean> {
  const held = new Set<string>()
  for (const points of statuses.values()) for (const s of points) if (s.complete) held.add(s.point.toString())
  let left = seeds.length
  for (const seed of seeds) {
    if (!seed.points.every(id => held.has(id))) continue
    await deps.seeds!.markConsumed(seed.seed)
    left--
    deps.events.emit('replication.seed-consumed', `${deps.label(rule.to)} holds every point of seed ${seed.seed}: it was consumed there, and its points no longer wait for it`, {
      seed: seed.seed, machine: rule.machine, to: rule.to, points: seed.points.length
    })
  }
  return left === 0
}

/**
 * The point to diff against: the last one this target acknowledged for the machine (this job's,
 * or the stored cursor), when this Core still has it; else, when retention here forgot that
 * one, the newest point the target holds complete (its status) that this Core still has, so a
 * forgotten cursor costs a delta, not the full closure's "have?". Null: the full closure.
 *
 * "Still has" means a point recorded here: a forgotten point's blocks are left to garbage
 * collection, which may take them while the job runs.
 */
async function deltaBase (deps: JobDeps, to: string, p: PlannedPoint, bases: Map<MachineRecord, SignedPoint | null>, held: PointSummary[]): Promise<SignedPoint | null> {
  const known = bases.get(p.machine)
  if (known !== undefined) return known
  const cursor = await deps.cursors.get(to, p.machine)
  const candidates = [
    ...(cursor === undefined ? [] : [cursor.point]),
    ...held.filter(s => s.complete && s.origin === p.machine.origin).sort((a, b) => b.seq - a.seq).map(s => s.point.toString())
  ]
  let base: SignedPoint | null = null
  for (const id of candidates) {
    if (id === p.record.point) continue
    base = await loadIfKept(deps, p.machine, id)
    if (base !== null) break
  }
  bases.set(p.machine, base)
  return base
}

async function parentOf (deps: JobDeps, machine: MachineRecord, point: SignedPoint): Promise<SignedPoint | null> {
  const parent = point.manifest.parent
  return parent === null ? null : await loadIfKept(deps, machine, parent.toString())
}

/** The manifest of a point this Core still records in the machine's tenant, else null. */
async function loadIfKept (deps: JobDeps, machine: MachineRecord, id: string): Promise<SignedPoint | null> {
  const record = await deps.points.get(id, machine.tenant)
  if (record === undefined || !await deps.store.has(CID.parse(id))) return null
  return await loadManifest(deps.store, id)
}

/** Calls `onProgress` at most every TRANSFER_PROGRESS_INTERVAL_MS, and at each point's start and end. */
function progressReporter (onProgress: ((p: JobProgress) => void) | undefined, result: JobResult) {
  let current: Omit<JobProgress, 'bytesSent' | 'blocksSent'> | undefined
  const report = throttled((point: NonNullable<typeof current>) => {
    onProgress?.({ ...point, bytesSent: result.bytesSent, blocksSent: result.blocksSent })
  }, TRANSFER_PROGRESS_INTERVAL_MS)
  return {
    start (point: Omit<JobProgress, 'bytesSent' | 'blocksSent' | 'bytesToSend'>): void {
      current = point
      report(current, true)
    },
    update (bytesToSend?: number, force = false): void {
      if (current === undefined) return
      if (bytesToSend !== undefined) current = { ...current, bytesToSend }
      report(current, force)
    }
  }
}
