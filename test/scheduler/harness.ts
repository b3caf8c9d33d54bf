/**
 * Test support for the scheduler: real LevelDB records (rules, points, peers, events) in a temp
 * directory, a clock the test moves, and a replication engine double whose jobs the test
 * finishes, fails or holds.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Level } from 'level'
import { EventLog } from '../../src/events/log.ts'
import type { CoreEvent } from '../../src/events/api.ts'
import { PeerRegistry } from '../../src/peers/index.ts'
import { PointIndex } from '../../src/points/index.ts'
import type { PointRecord } from '../../src/points/api.ts'
import { RuleStore } from '../../src/rules/index.ts'
import type { NewRule, RuleRecord } from '../../src/rules/index.ts'
import { ReplicationScheduler } from '../../src/scheduler/index.ts'
import type { Clock, JobProgress, JobResult, PointReceived, ReplicationJobs } from '../../src/scheduler/index.ts'
import type { RootDb } from '../../src/store/index.ts'

export const newPeerId = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()

/** Timers fire only when the test moves the clock. */
export class ManualClock implements Clock {
  #now: number
  #timers: Array<{ at: number, fn: () => void }> = []

  constructor (start: Date) {
    this.#now = start.getTime()
  }

  now (): number { return this.#now }

  setTimer (fn: () => void, ms: number): unknown {
    const timer = { at: this.#now + ms, fn }
    this.#timers.push(timer)
    return timer
  }

  clearTimer (timer: unknown): void {
    this.#timers = this.#timers.filter(t => t !== timer)
  }

  get pending (): number[] {
    return this.#timers.map(t => t.at).sort((a, b) => a - b)
  }

  /** Moves time to `to`, firing due timers in order and letting `settle` run after each. */
  async advanceTo (to: Date, settle: () => Promise<void>): Promise<void> {
    for (;;) {
      const due = this.#timers.filter(t => t.at <= to.getTime()).sort((a, b) => a.at - b.at)[0]
      if (due == null) break
      this.#timers = this.#timers.filter(t => t !== due)
      this.#now = Math.max(this.#now, due.at)
      due.fn()
      await settle()
    }
    this.#now = Math.max(this.#now, to.getTime())
  }
}

export interface FakeJob {
  rule: RuleRecord
  signal?: AbortSignal
  onProgress?: (p: JobProgress) => void
  finish: (result?: Partial<JobResult>) => void
  fail: (err: Error) => void
  settled: boolean
}

/** The replication engine's double: records each job; finishes it at once unless holding. */
export class FakeEngine implements ReplicationJobs {
  readonly jobs: FakeJob[] = []
  hold = false
  failWith: Error | undefined
  running = 0
  maxRunning = 0
  readonly #listeners = new Set<(point: PointReceived) => void>()

  async replicate (rule: RuleRecord, options: { signal?: AbortSignal, onProgress?: (p: JobProgress) => void } = {}): Promise<JobResult> {
    this.running++
    this.maxRunning = Math.max(this.maxRunning, this.running)
    try {
      return await new Promise<JobResult>((resolve, reject) => {
        const job: FakeJob = {
          rule: structuredClone(rule),
          signal: options.signal,
          onProgress: options.onProgress,
          settled: false,
          finish: (result = {}) => {
            job.settled = true
            resolve({ sent: [], skipped: [], bytesSent: 0, blocksSent: 0, seconds: 0, streams: 1, lastPoint: null, pointsBehind: 0, blocked: [], ...result })
          },
          fail: err => { job.settled = true; reject(err) }
        }
        options.signal?.addEventListener('abort', () => job.fail(options.signal!.reason))
        this.jobs.push(job)
        if (this.failWith != null) job.fail(this.failWith)
        else if (!this.hold) job.finish()
      })
    } finally {
      this.running--
    }
  }

  onPointReceived (listener: (point: PointReceived) => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  receive (point: PointReceived): void {
    for (const listener of this.#listeners) listener(point)
  }

  /** `machine -> to` of every job so far */
  get runs (): string[] {
    return this.jobs.map(j => `${j.rule.machine}->${j.rule.to}`)
  }

  get open (): FakeJob[] {
    return this.jobs.filter(j => !j.settled)
  }
}

export interface Harness {
  db: RootDb
  events: EventLog
  seen: CoreEvent[]
  peers: PeerRegistry
  points: PointIndex
  rules: RuleStore
  clock: ManualClock
  engine: FakeEngine
  scheduler: ReplicationScheduler
  self: string
  /** peers that approved this Core */
  siteB: string
  siteC: string
  /** a paired peer that has not approved this Core yet */
  pending: string
  addRule: (rule: NewRule) => Promise<RuleRecord>
  addPoint: (p: { machine: string, tenant?: string, origin?: string, cluster?: string | null, seq?: number }) => Promise<PointRecord>
  backup: (machine: string) => Promise<void>
  settle: () => Promise<void>
  advanceTo: (date: Date) => Promise<void>
  close: () => Promise<void>
}

export async function harness (options: { now: Date, concurrency?: number, retryDelays?: number[], start?: boolean }): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'drcore-scheduler-'))
  const db: RootDb = new Level(dir)
  await db.open()
  const events = new EventLog(db)
  await events.start()
  const seen: CoreEvent[] = []
  events.subscribe(e => seen.push(e))
  const [self, siteB, siteC, pending] = await Promise.all([newPeerId(), newPeerId(), newPeerId(), newPeerId()])
  const peers = await PeerRegistry.open(db, { self, events })
  for (const [peer, name] of [[siteB, 'siteB'], [siteC, 'siteC'], [pending, 'siteP']]) {
    await peers.asking(peer, { name, address: '/ip4/127.0.0.1/tcp/4101' })
    await peers.answered(peer, peer === pending ? 'pending' : 'approved')
  }
  const points = new PointIndex(db)
  const rules = new RuleStore(db)
  const clock = new ManualClock(options.now)
  const engine = new FakeEngine()
  const scheduler = new ReplicationScheduler({ rules, jobs: engine, events, points, peers, clock, concurrency: options.concurrency, retryDelays: options.retryDelays })
  const settle = async (): Promise<void> => {
    // events are delivered synchronously, their handlers read LevelDB: let them start, then wait
    await new Promise(resolve => setImmediate(resolve))
    await scheduler.idle()
  }
  let seq = 0
  const h: Harness = {
    db,
    events,
    seen,
    peers,
    points,
    rules,
    clock,
    engine,
    scheduler,
    self,
    siteB,
    siteC,
    pending,
    addRule: async rule => {
      await rules.add(rule)
      const record = await rules.update(rule.machine, rule.to, r => { r.createdAt = new Date(clock.now()).toISOString() })
      scheduler.added(record)
      return record
    },
    addPoint: async p => {
      const record: PointRecord = {
        point: `point-${++seq}`,
        machine: p.machine,
        cluster: p.cluster ?? null,
        origin: p.origin ?? self,
        tenant: p.tenant ?? '',
        seq: p.seq ?? seq,
        kind: 'base',
        parent: null,
        createdAt: new Date(clock.now()).toISOString(),
        complete: true,
        missing: 0,
        volumes: {}
      }
      await points.record(record)
      return record
    },
    backup: async machine => {
      const record = await h.addPoint({ machine })
      scheduler.backedUp(record.point)
      await settle()
    },
    settle,
    advanceTo: async date => { await clock.advanceTo(date, settle) },
    close: async () => {
      await scheduler.stop()
      await events.flush()
      await db.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
  if (options.start !== false) await scheduler.start()
  return h
}

/** Local time on a fixed day (windows are local time). */
export function at (hours: number, minutes = 0, seconds = 0, day = 25): Date {
  return new Date(2026, 10, day, hours, minutes, seconds)
}
