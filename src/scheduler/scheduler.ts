import { UserError } from '../errors.ts'
import type { CoreEvent } from '../events/api.ts'
import type { MachineRecord, PointRecord } from '../points/api.ts'
import { inWindow, RuleStore, isCronSchedule, lastCronRun, nextCronRun, nextWindowStart } from '../rules/index.ts'
import type { RuleRecord } from '../rules/index.ts'
import type { Clock, JobResult, JobProgress, PointReceived, ReplicationJobs, RuleActivity, SchedulerEvents, SchedulerPeers } from './api.ts'
import { DEFAULT_CONCURRENCY, DEFAULT_RETRY_DELAYS_MS, MAX_TIMER_MS } from './constants.ts'
import { rulesSending } from './matching.ts'
import type { TriggerMachine } from './matching.ts'
import { whyCannotSend } from './permission.ts'

export interface SchedulerOptions {
  rules: RuleStore
  jobs: ReplicationJobs
  events: SchedulerEvents
  points: {
    get (id: string, tenant?: string): Promise<PointRecord | undefined>
    findMachine (name: string): Promise<MachineRecord>
  }
  peers: SchedulerPeers
  /** jobs at once (default 2) */
  concurrency?: number
  /** waits before the first, second, ... retry of a failed job; the last repeats */
  retryDelays?: number[]
  clock?: Clock
}

/** Why a job was asked for; shown in events. */
export type TriggerReason = 'start' | 'added' | 'resumed' | 'approved' | 'backup' | 'verify' | 'received' | 'schedule' | 'window' | 'retry' | 'follow-up' | 'seed abandoned' | 'seed consumed'

interface Timer {
  handle: unknown
  at: number
}

interface Waiter {
  resolve: (outcome: JobResult) => void
  reject: (err: Error) => void
  onProgress?: (p: JobProgress) => void
}

interface Job {
  readonly controller: AbortController
  readonly listeners: Set<(p: JobProgress) => void>
  readonly startedAt: number
  progress: JobProgress | null
  done?: Promise<void>
}

/** The scheduler's state of one rule. */
interface Slot {
  readonly key: string
  readonly machine: string
  readonly to: string
  job?: Job
  /** a trigger arrived while the job ran: run once more when it ends */
  again: boolean
  queued: boolean
  /** `now` callers, served by the next job that starts */
  waiting: Waiter[]
  /** failed jobs in a row */
  failures: number
  window?: Timer
  retry?: Timer
  cron?: Timer
}

const realClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimer: timer => { clearTimeout(timer as NodeJS.Timeout) }
}

/**
 * Decides when each replication rule runs a job (docs/replication.md, "Triggers"):
 * - after every backup of the rule's machine (or of its cluster), after a passing verify, after
 *   a point arrives from a peer that the rule forwards (multi-hop), and after a seed drive
 *   brought blocks: rules with the default `after-backup` schedule;
 * - on its cron schedule, for a rule that has one (and only then);
 * - at start (a restart resumes unfinished work), on resume, when the rule is added, and when
 *   the target approves this Core: always for `after-backup` rules, and for cron rules only when
 *   a scheduled run was missed or the last job failed or was cut short;
 * - `now`: at once, outside the window and the schedule, past the concurrency limit.
 * A trigger outside the rule's daily window waits for the window to open; a job started inside
 * it runs to the end. A paused rule, or one whose target has not approved this Core, starts no
 * job; resume and the approval wake it. One job per rule at a time: a trigger during a job runs
 * it once more afterwards. At most `concurrency` jobs at once. A failed job is retried after
 * 30 s, 2 min, then every 10 min (triggers in between wait for the retry) until one succeeds.
 */
export class ReplicationScheduler {
  readonly #rules: RuleStore
  readonly #jobs: ReplicationJobs
  readonly #events: SchedulerEvents
  readonly #points: SchedulerOptions['points']
  readonly #peers: SchedulerPeers
  readonly #concurrency: number
  readonly #retryDelays: number[]
  readonly #clock: Clock
  readonly #slots = new Map<string, Slot>()
  readonly #queue: Slot[] = []
  readonly #unsubscribe: Array<() => void> = []
  readonly #idle: Array<() => void> = []
  #active = 0
  /** trigger handlers still reading the store */
  #deciding = 0
  #running = false

  constructor (options: SchedulerOptions) {
    this.#rules = options.rules
    this.#jobs = options.jobs
    this.#events = options.events
    this.#points = options.points
    this.#peers = options.peers
    this.#concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY)
    this.#retryDelays = options.retryDelays != null && options.retryDelays.length > 0 ? options.retryDelays : DEFAULT_RETRY_DELAYS_MS
    this.#clock = options.clock ?? realClock
  }

  /** Listens for triggers and wakes every rule once (a restart resumes unfinished work). */
  async start (): Promise<void> {
    this.#running = true
    this.#unsubscribe.push(this.#events.subscribe(event => { this.#background(async () => { await this.#onEvent(event) }) }))
    this.#unsubscribe.push(this.#jobs.onPointReceived(point => { this.#background(async () => { await this.#onPointReceived(point) }) }))
    for (const rule of await this.#rules.list()) this.#wake(rule, 'start')
  }

  /** Stops every job (what the target stored stays stored) and every timer. */
  async stop (): Promise<void> {
    this.#running = false
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe()
    const jobs: Array<Promise<void> | undefined> = []
    for (const slot of this.#slots.values()) {
      this.#clearTimers(slot)
      for (const waiter of slot.waiting.splice(0)) waiter.reject(new UserError('the Core is stopping'))
      slot.job?.controller.abort(new UserError('the Core is stopping'))
      jobs.push(slot.job?.done)
    }
    this.#queue.length = 0
    await Promise.allSettled(jobs)
    this.#slots.clear()
    this.#settle()
  }

  // --- the operator's changes (the rule store is already updated) ------------------------------

  /** A new rule: arm its schedule and run it unless paused, waiting or not due. */
  added (rule: RuleRecord): void {
    this.#wake(rule, 'added')
  }

  /** The rule was paused: its running job stops at once; its triggers wait for resume. */
  async paused (machine: string, to: string): Promise<void> {
    const slot = this.#slots.get(RuleStore.key(machine, to))
    if (slot == null) return
    this.#unqueue(slot)
    if (slot.window != null) this.#clear(slot, 'window')
    if (slot.retry != null) this.#clear(slot, 'retry')
    slot.again = false
    slot.job?.controller.abort(new UserError('the rule was paused'))
    await slot.job?.done
  }

  resumed (rule: RuleRecord): void {
    this.#wake(rule, 'resumed')
  }

  /**
   * The rule's schedule, window or limit changed (`replication set`): its timers follow the new
   * schedule and window; no job starts for the change itself. A running job keeps its limit.
   */
  changed (rule: RuleRecord): void {
    const slot = this.#slots.get(RuleStore.key(rule.machine, rule.to))
    if (slot == null || !this.#running) return
    const deferred = slot.window != null
    this.#clear(slot, 'cron')
    this.#clear(slot, 'window')
    if (isCronSchedule(rule.schedule) && !rule.paused) this.#armCron(slot, rule.schedule)
    // a job waiting for the old window waits for the new one, or starts if it is open now
    if (deferred) this.#trigger(slot, 'window')
  }

  /** The rule is about to be removed: stop its job and forget it. */
  async removed (machine: string, to: string): Promise<void> {
    const slot = this.#slots.get(RuleStore.key(machine, to))
    if (slot == null) return
    this.#slots.delete(slot.key)
    this.#unqueue(slot)
    this.#clearTimers(slot)
    for (const waiter of slot.waiting.splice(0)) waiter.reject(new UserError('the rule was removed'))
    slot.job?.controller.abort(new UserError('the rule was removed'))
    await slot.job?.done
    this.#settle()
  }

  /**
   * Runs a job for the rule now, whatever its window and schedule. Resolves once the job is
   * asked for (a paused rule, or one whose target has not approved this Core, is refused);
   * `outcome` resolves when the job ends. When a job is running, it reports its progress too,
   * and a new job starts right after it, so that every point that exists now is sent.
   */
  async now (machine: string, to: string, onProgress?: (p: JobProgress) => void): Promise<{ outcome: Promise<JobResult> }> {
    if (!this.#running) throw new UserError('the replication scheduler is not running')
    const rule = await this.#rules.get(machine, to)
    const label = this.#label(to)
    if (rule.paused) throw new UserError(`replication of ${machine} to ${label} is paused: resume it first (drcore replication resume ${machine} --to ${label})`)
    const blocked = whyCannotSend(this.#peers, to)
    if (blocked != null) throw new UserError(`cannot replicate ${machine} to ${label}: ${blocked}`)
    const slot = this.#slot(rule)
    if (slot.retry != null) this.#clear(slot, 'retry')
    if (slot.window != null) this.#clear(slot, 'window')
    const outcome = new Promise<JobResult>((resolve, reject) => {
      slot.waiting.push({ resolve, reject, onProgress })
    })
    if (slot.job != null) {
      if (onProgress != null) slot.job.listeners.add(onProgress)
    } else {
      this.#unqueue(slot)
      this.#startJob(slot)
    }
    return { outcome }
  }

  /** What the scheduler is doing with a rule right now (for `replication list`). */
  activity (machine: string, to: string): RuleActivity {
    const slot = this.#slots.get(RuleStore.key(machine, to))
    const iso = (timer: Timer | undefined): string | null => timer == null ? null : new Date(timer.at).toISOString()
    return {
      running: slot?.job != null,
      progress: slot?.job?.progress ?? null,
      startedAt: slot?.job != null ? new Date(slot.job.startedAt).toISOString() : null,
      waitingForWindow: iso(slot?.window),
      retryAt: iso(slot?.retry),
      nextRunAt: iso(slot?.cron)
    }
  }

  /** Resolves when no job runs, none is queued and no trigger is being decided (tests). */
  async idle (): Promise<void> {
    while (this.#busy()) await new Promise<void>(resolve => this.#idle.push(resolve))
  }

  // --- triggers ----------------------------------------------------------------------------------

  async #onEvent (event: CoreEvent): Promise<void> {
    const data = event.data
    switch (event.type) {
      case 'backup.finished': {
        const record = typeof data.point === 'string' ? await this.#points.get(data.point, '') : undefined
        if (record != null) await this.#triggerSending(record, 'backup')
        break
      }
      case 'verify.finished':
        if (event.level === 'error') break
        for (const rule of await this.#rules.list()) if (!isCronSchedule(rule.schedule)) this.#trigger(this.#slot(rule), 'verify')
        break
      case 'seed.consumed':
        // points arrived on a seed drive (or orphans became complete): rules may forward them
        if (typeof data.imported !== 'number' || data.imported === 0) break
        for (const rule of await this.#rules.list()) if (!isCronSchedule(rule.schedule)) this.#trigger(this.#slot(rule), 'seed consumed')
        break
      case 'pairing.approved':
        if (data.by !== 'remote') break
        for (const rule of await this.#rules.list()) if (rule.to === data.peerId) this.#wake(rule, 'approved')
        break
      case 'seed.abandoned':
        for (const r of Array.isArray(data.rules) ? data.rules as Array<{ machine: string, to: string }> : []) {
          const rule = await this.#rules.get(r.machine, r.to).catch(() => undefined)
          if (rule != null) this.#wake(rule, 'seed abandoned')
        }
        break
    }
  }

  async #onPointReceived (point: PointReceived): Promise<void> {
    const record = await this.#points.get(point.point, point.tenant)
    const machine: TriggerMachine = { machine: point.machine, tenant: point.tenant, origin: point.origin, cluster: record?.cluster ?? null }
    // never back to the Core it came from, nor to its origin: the engine would send nothing
    await this.#triggerSending(machine, 'received', rule => rule.to !== point.from && rule.to !== point.origin)
  }

  async #triggerSending (machine: TriggerMachine, reason: TriggerReason, filter: (rule: RuleRecord) => boolean = () => true): Promise<void> {
    const candidates = (await this.#rules.list()).filter(rule => !isCronSchedule(rule.schedule) && filter(rule))
    for (const rule of await rulesSending(candidates, machine, async name => await this.#points.findMachine(name))) {
      this.#trigger(this.#slot(rule), reason)
    }
  }

  /**
   * Start, resume, a new rule, an approval: after-backup rules run; cron rules run only when a
   * scheduled run was missed, or their last job failed or was cut short.
   */
  #wake (rule: RuleRecord, reason: TriggerReason): void {
    if (!this.#running) return
    const slot = this.#slot(rule)
    if (isCronSchedule(rule.schedule)) {
      this.#armCron(slot, rule.schedule)
      const last = lastCronRun(rule.schedule, new Date(this.#clock.now()))
      const since = Date.parse(rule.lastRunAt ?? rule.createdAt)
      const missed = last != null && last.getTime() > since
      if (!missed && rule.state !== 'running' && rule.state !== 'error') return
    }
    this.#trigger(slot, reason)
  }

  /** Asks for a job: it starts when the rule may run, now or when its window opens. */
  #trigger (slot: Slot, reason: TriggerReason): void {
    if (!this.#running) return
    this.#background(async () => {
      const rule = await this.#rules.get(slot.machine, slot.to).catch(() => undefined)
      if (rule == null || this.#slots.get(slot.key) !== slot || rule.paused) return
      if (whyCannotSend(this.#peers, rule.to) != null) return // the approval wakes it
      if (slot.retry != null && reason !== 'retry') return // the retry will send it
      if (slot.job != null) {
        slot.again = true
        return
      }
      const now = new Date(this.#clock.now())
      if (!inWindow(rule.window, now)) {
        this.#deferToWindow(slot, rule, now, reason)
        return
      }
      this.#enqueue(slot)
    })
  }

  #deferToWindow (slot: Slot, rule: RuleRecord, now: Date, reason: TriggerReason): void {
    if (slot.window != null || rule.window == null) return
    const opens = nextWindowStart(rule.window, now)
    slot.window = this.#timer(opens.getTime(), () => {
      slot.window = undefined
      this.#trigger(slot, 'window')
    })
    this.#events.emit('replication.deferred',
      `replication of ${rule.machine} to ${this.#label(rule.to)} waits for its window ${rule.window} (opens ${opens.toISOString()}; asked for by ${reason})`,
      { machine: rule.machine, to: rule.to, window: rule.window, opensAt: opens.toISOString(), reason })
  }

  #armCron (slot: Slot, schedule: string): void {
    if (slot.cron != null) return
    const next = nextCronRun(schedule, new Date(this.#clock.now()))
    if (next == null) return
    slot.cron = this.#timer(next.getTime(), () => {
      slot.cron = undefined
      if (!this.#running || this.#slots.get(slot.key) !== slot) return
      this.#trigger(slot, 'schedule')
      this.#armCron(slot, schedule)
    })
  }

  // --- jobs ------------------------------------------------------------------------------------

  #enqueue (slot: Slot): void {
    if (slot.queued || slot.job != null) return
    slot.queued = true
    this.#queue.push(slot)
    this.#pump()
  }

  #unqueue (slot: Slot): void {
    if (!slot.queued) return
    slot.queued = false
    this.#queue.splice(this.#queue.indexOf(slot), 1)
  }

  #pump (): void {
    while (this.#running && this.#active < this.#concurrency && this.#queue.length > 0) {
      const slot = this.#queue.shift()!
      slot.queued = false
      this.#startJob(slot)
    }
    this.#settle()
  }

  #startJob (slot: Slot): void {
    const waiters = slot.waiting.splice(0)
    const job: Job = {
      controller: new AbortController(),
      listeners: new Set(waiters.flatMap(w => w.onProgress != null ? [w.onProgress] : [])),
      startedAt: this.#clock.now(),
      progress: null
    }
    slot.job = job
    slot.again = false
    this.#active++
    job.done = this.#runJob(slot, job, waiters).finally(() => {
      this.#active--
      slot.job = undefined
      this.#afterJob(slot)
    })
  }

  async #runJob (slot: Slot, job: Job, waiters: Waiter[]): Promise<void> {
    const signal = job.controller.signal
    let rule: RuleRecord
    try {
      rule = await this.#rules.update(slot.machine, slot.to, r => {
        if (r.paused) return
        r.state = 'running' // on disk until the job ends: a crash leaves it, and the next start resumes
        r.lastRunAt = this.#isoNow()
      })
      if (rule.paused) throw new UserError(`replication of ${slot.machine} to ${this.#label(slot.to)} is paused`)
      if (signal.aborted) throw signal.reason
    } catch (err: any) {
      for (const waiter of waiters) waiter.reject(err)
      return
    }
    try {
      const outcome = await this.#jobs.replicate(rule, {
        signal,
        onProgress: p => {
          job.progress = p
          this.#publishProgress(slot, job, false)
          for (const listener of job.listeners) listener(p)
        }
      })
      if (job.progress != null) this.#publishProgress(slot, job, true)
      slot.failures = 0
      await this.#record(slot, r => {
        r.state = 'idle'
        r.error = null
        r.lastPoint = outcome.lastPoint ?? r.lastPoint
        r.bytesSent += outcome.bytesSent
        r.lastSuccessAt = this.#isoNow()
      })
      for (const waiter of waiters) waiter.resolve(outcome)
    } catch (err: any) {
      if (job.progress != null) this.#publishProgress(slot, job, true)
      const partial = job.progress?.bytesSent ?? 0
      const label = this.#label(slot.to)
      if (signal.aborted) {
        // paused, removed or stopping: not a failure; the job stays `running` on disk, so the
        // next start or resume knows it has unfinished work
        await this.#record(slot, r => { r.bytesSent += partial })
        const why = signal.reason instanceof Error ? signal.reason.message : 'it was stopped'
        for (const waiter of waiters) waiter.reject(new UserError(`replication of ${slot.machine} to ${label} stopped: ${why}`))
        return
      }
      const message = String(err?.message ?? err)
      slot.failures++
      await this.#record(slot, r => {
        r.bytesSent += partial
        r.state = 'error'
        r.error = message
      })
      this.#armRetry(slot, message)
      for (const waiter of waiters) waiter.reject(err instanceof UserError ? err : new UserError(`replication of ${slot.machine} to ${label} failed: ${message}`))
    }
  }

  #afterJob (slot: Slot): void {
    if (this.#running && this.#slots.get(slot.key) === slot) {
      if (slot.waiting.length > 0) {
        this.#startJob(slot)
      } else if (slot.again) {
        slot.again = false
        this.#trigger(slot, 'follow-up')
      }
    }
    this.#pump()
  }

  #armRetry (slot: Slot, message: string): void {
    if (!this.#running || this.#slots.get(slot.key) !== slot) return
    slot.again = false
    const delay = this.#retryDelays[Math.min(slot.failures, this.#retryDelays.length) - 1]
    if (slot.retry != null) this.#clear(slot, 'retry')
    slot.retry = this.#timer(this.#clock.now() + delay, () => {
      slot.retry = undefined
      this.#trigger(slot, 'retry')
    })
    this.#events.emit('replication.retry',
      `replication of ${slot.machine} to ${this.#label(slot.to)} failed (${message}); retry ${slot.failures} in ${formatDelay(delay)}`,
      { machine: slot.machine, to: slot.to, attempt: slot.failures, delayMs: delay, error: message }, 'warning')
  }

  /** `replication.progress`, live only: the console and `drcore status` show running jobs. */
  #publishProgress (slot: Slot, job: Job, done: boolean): void {
    const p = job.progress!
    const seconds = (this.#clock.now() - job.startedAt) / 1000
    this.#events.publish('replication.progress', `replicating ${slot.machine} to ${this.#label(slot.to)}: point ${p.pointIndex} of ${p.points}, ${p.bytesSent} bytes`, {
      ...p,
      machine: slot.machine,
      to: slot.to,
      rate: seconds > 0 ? Math.round(p.bytesSent / seconds) : 0,
      startedAt: new Date(job.startedAt).toISOString(),
      done
    })
  }

  /** Records a job's outcome on the rule, unless the rule was removed meanwhile. */
  async #record (slot: Slot, change: (rule: RuleRecord) => void): Promise<void> {
    try {
      await this.#rules.update(slot.machine, slot.to, change)
    } catch (err) {
      if (!(err instanceof UserError)) throw err
    }
  }

  // --- plumbing ----------------------------------------------------------------------------------

  #slot (rule: RuleRecord): Slot {
    const key = RuleStore.key(rule.machine, rule.to)
    let slot = this.#slots.get(key)
    if (slot == null) {
      slot = { key, machine: rule.machine, to: rule.to, again: false, queued: false, waiting: [], failures: 0 }
      this.#slots.set(key, slot)
    }
    return slot
  }

  /** A timer at an absolute time, re-armed in steps past the longest setTimeout. */
  #timer (at: number, fire: () => void): Timer {
    const timer: Timer = { handle: undefined, at }
    const arm = (): void => {
      const wait = at - this.#clock.now()
      timer.handle = this.#clock.setTimer(() => { if (wait > MAX_TIMER_MS) arm(); else fire() }, Math.max(0, Math.min(wait, MAX_TIMER_MS)))
    }
    arm()
    return timer
  }

  #clear (slot: Slot, which: 'window' | 'retry' | 'cron'): void {
    const timer = slot[which]
    if (timer != null) this.#clock.clearTimer(timer.handle)
    slot[which] = undefined
  }

  #clearTimers (slot: Slot): void {
    this.#clear(slot, 'window')
    this.#clear(slot, 'retry')
    this.#clear(slot, 'cron')
  }

  #label (peerId: string): string {
    return this.#peers.get(peerId)?.name ?? peerId
  }

  #isoNow (): string {
    return new Date(this.#clock.now()).toISOString()
  }

  #busy (): boolean {
    return this.#active > 0 || this.#queue.length > 0 || this.#deciding > 0
  }

  #settle (): void {
    if (!this.#busy()) for (const resolve of this.#idle.splice(0)) resolve()
  }

  /** Runs trigger handling that reads the store; `idle()` waits for it. */
  #background (work: () => Promise<void>): void {
    this.#deciding++
    work().catch((err: any) => {
      this.#events.emit('replication.scheduler-error', `the replication scheduler failed to handle a trigger: ${err?.message ?? err}`, {}, 'error')
    }).finally(() => {
      this.#deciding--
      this.#settle()
    })
  }
}

function formatDelay (ms: number): string {
  if (ms < 1000) return `${ms} ms`
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`
  return `${Math.round(ms / 60_000)} min`
}
