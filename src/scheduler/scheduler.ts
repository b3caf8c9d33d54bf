import { messageWithCauses, NotAuthorizedError, StoppingError, UserError } from '../errors.ts'
import type { MachineRecord, PointRecord } from '../points/api.ts'
import { isCronSchedule, nextCronRun, nextWindowStart, RuleStore } from '../rules/index.ts'
import type { RuleRecord } from '../rules/index.ts'
import type { Clock, JobResult, JobProgress, PointReceived, ReplicationJobs, RuleActivity, SchedulerEvents, SchedulerPeers } from './api.ts'
import { DEFAULT_CONCURRENCY, DEFAULT_RETRY_DELAYS_MS } from './constants.ts'
import { triggerOutcome, wakeAsksForJob } from './decide.ts'
import { JobQueue } from './job-queue.ts'
import { JobRunner } from './job-runner.ts'
import { rulesSending } from './matching.ts'
import type { TriggerMachine } from './matching.ts'
import { whyCannotSend } from './permission.ts'
import { Quiescence } from './quiescence.ts'
import { ifRemoved } from './removed.ts'
import { formatDelay, retryDelay } from './retry.ts'
import { activityOf, newJob, newSlot } from './slot.ts'
import type { Slot, TriggerReason } from './slot.ts'
import { realClock, Timers } from './timers.ts'

export type { TriggerReason }

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

/**
 * Decides when each replication rule runs a job (docs/replication.md, "Triggers"):
 * - after every backup of the rule's machine (or of its cluster), after a passing verify, after
 *   a point arrives from a peer that the rule forwards (multi-hop), and after a seed drive
 *   brought blocks: rules with the default `after-backup` schedule;
 * - on its cron schedule, for a rule that has one (and only then);
 * - at start (a restart resumes unfinished work), on resume, when the rule is added, and when
 *   the target approves this Core: always for `after-backup` rules, and for cron rules only when
 *   a scheduled run was missed or the last job failed or was cut short (decide.ts);
 * - `now`: at once, outside the window and the schedule, past the concurrency limit.
 * A trigger outside the rule's daily window waits for the window to open; a job started inside
 * it runs to the end. A paused rule, or one whose target has not approved this Core, starts no
 * job; resume and the approval wake it. One job per rule at a time: a trigger during a job runs
 * it once more afterwards. At most `concurrency` jobs at once (job-queue.ts). A failed job is
 * retried after 30 s, 2 min, then every 10 min (triggers in between wait for the retry) until
 * one succeeds. Running one job and recording its outcome is job-runner.ts's.
 */
export class ReplicationScheduler {
  readonly #rules: RuleStore
  readonly #jobs: ReplicationJobs
  readonly #events: SchedulerEvents
  readonly #points: SchedulerOptions['points']
  readonly #peers: SchedulerPeers
  readonly #retryDelays: number[]
  readonly #timers: Timers
  readonly #slots = new Map<string, Slot>()
  readonly #queue: JobQueue
  readonly #runner: JobRunner
  readonly #quiet: Quiescence
  readonly #unsubscribe: Array<() => void> = []
  #running = false

  constructor (options: SchedulerOptions) {
    this.#rules = options.rules
    this.#jobs = options.jobs
    this.#events = options.events
    this.#points = options.points
    this.#peers = options.peers
    this.#retryDelays = options.retryDelays != null && options.retryDelays.length > 0 ? options.retryDelays : DEFAULT_RETRY_DELAYS_MS
    this.#timers = new Timers(options.clock ?? realClock)
    this.#queue = new JobQueue(Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY))
    this.#quiet = new Quiescence(() => this.#queue.busy)
    this.#runner = new JobRunner({
      rules: this.#rules,
      jobs: this.#jobs,
      events: this.#events,
      now: () => this.#timers.now(),
      label: peerId => this.#label(peerId),
      retry: (slot, message) => { this.#armRetry(slot, message) }
    })
  }

  /**
   * Listens to its parts (points from peers, approvals from peers) and wakes every rule once (a
   * restart resumes unfinished work).
   */
  async start (): Promise<void> {
    this.#running = true
    this.#unsubscribe.push(this.#jobs.onPointReceived(point => { this.#background(async () => { await this.#onPointReceived(point) }) }))
    this.#unsubscribe.push(this.#peers.onApproval(peerId => { this.#background(async () => { await this.#onApproval(peerId) }) }))
    for (const rule of await this.#rules.list()) this.#wake(rule, 'start')
  }

  /** Stops every job (what the target stored stays stored) and every timer. */
  async stop (): Promise<void> {
    this.#running = false
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe()
    const jobs: Array<Promise<void> | undefined> = []
    for (const slot of this.#slots.values()) {
      this.#timers.clearAll(slot)
      for (const waiter of slot.waiting.splice(0)) waiter.reject(new StoppingError('the Core is stopping'))
      slot.job?.controller.abort(new StoppingError('the Core is stopping'))
      jobs.push(slot.job?.done)
    }
    this.#queue.clear()
    await Promise.allSettled(jobs)
    this.#slots.clear()
    this.#quiet.settle()
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
    this.#queue.remove(slot)
    if (slot.window != null) this.#timers.clear(slot, 'window')
    if (slot.retry != null) this.#timers.clear(slot, 'retry')
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
    this.#timers.clear(slot, 'cron')
    this.#timers.clear(slot, 'window')
    if (isCronSchedule(rule.schedule) && !rule.paused) this.#armCron(slot, rule.schedule)
    // a job waiting for the old window waits for the new one, or starts if it is open now
    if (deferred) this.#trigger(slot, 'window')
  }

  /** The rule is about to be removed: stop its job and forget it. */
  async removed (machine: string, to: string): Promise<void> {
    const slot = this.#slots.get(RuleStore.key(machine, to))
    if (slot == null) return
    this.#slots.delete(slot.key)
    this.#queue.remove(slot)
    this.#timers.clearAll(slot)
    for (const waiter of slot.waiting.splice(0)) waiter.reject(new UserError('the rule was removed'))
    slot.job?.controller.abort(new UserError('the rule was removed'))
    await slot.job?.done
    this.#quiet.settle()
  }

  /**
   * Runs a job for the rule now, whatever its window and schedule. Resolves once the job is
   * asked for (a paused rule, or one whose target has not approved this Core, is refused);
   * `outcome` resolves when the job ends. When a job is running, it reports its progress too,
   * and a new job starts right after it, so that every point that exists now is sent.
   */
  async now (machine: string, to: string, onProgress?: (p: JobProgress) => void): Promise<{ outcome: Promise<JobResult> }> {
    if (!this.#running) throw new StoppingError('the replication scheduler is not running')
    const rule = await this.#rules.get(machine, to)
    const label = this.#label(to)
    if (rule.paused) throw new UserError(`replication of ${machine} to ${label} is paused: resume it first (drcore replication resume ${machine} --to ${label})`)
    const blocked = whyCannotSend(this.#peers, to)
    if (blocked != null) throw new NotAuthorizedError(`cannot replicate ${machine} to ${label}: ${blocked}`)
    const slot = this.#slot(rule)
    if (slot.retry != null) this.#timers.clear(slot, 'retry')
    if (slot.window != null) this.#timers.clear(slot, 'window')
    const outcome = new Promise<JobResult>((resolve, reject) => {
      slot.waiting.push({ resolve, reject, onProgress })
    })
    if (slot.job != null) {
      if (onProgress != null) slot.job.listeners.add(onProgress)
    } else {
      this.#queue.remove(slot)
      this.#startJob(slot)
    }
    return { outcome }
  }

  /** What the scheduler is doing with a rule right now (for `replication list`). */
  activity (machine: string, to: string): RuleActivity {
    return activityOf(this.#slots.get(RuleStore.key(machine, to)))
  }

  /** Resolves when no job runs, none is queued and no trigger is being decided (tests). */
  async idle (): Promise<void> {
    await this.#quiet.idle()
  }

  // --- what happened elsewhere in the Core (the composition root tells) ------------------------

  /** A backup of this Core took `point`: the rules that send its machine, or its cluster, run. */
  backedUp (point: string): void {
    this.#background(async () => {
      const record = await this.#points.get(point, '')
      if (record != null) await this.#triggerSending(record, 'backup')
    })
  }

  /** A verify ended: a passing one runs every after-backup rule (it may have healed what a job lacked). */
  verified (report: { ok: boolean }): void {
    if (!report.ok) return
    this.#background(async () => { await this.#triggerAfterBackupRules('verify') })
  }

  /** A seed drive was consumed: when it brought blocks (points arrived, or orphans became complete), rules may forward them. */
  seedConsumed (result: { imported: number }): void {
    if (result.imported === 0) return
    this.#background(async () => { await this.#triggerAfterBackupRules('seed consumed') })
  }

  /** A seed was abandoned: its rules wake, to send its points over the network. */
  seedAbandoned (rules: Array<{ machine: string, to: string }>): void {
    this.#background(async () => {
      for (const r of rules) {
        const rule = await this.#rules.get(r.machine, r.to).catch(ifRemoved(undefined))
        if (rule != null) this.#wake(rule, 'seed abandoned')
      }
    })
  }

  // --- triggers ----------------------------------------------------------------------------------

  async #triggerAfterBackupRules (reason: TriggerReason): Promise<void> {
    for (const rule of await this.#rules.list()) if (!isCronSchedule(rule.schedule)) this.#trigger(this.#slot(rule), reason)
  }

  /** A target approved this Core: its rules, which started no job until now, wake. */
  async #onApproval (peerId: string): Promise<void> {
    for (const rule of await this.#rules.list()) if (rule.to === peerId) this.#wake(rule, 'approved')
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

  /** Start, resume, a new rule, an approval: arms a cron rule's schedule; asks for a job when due. */
  #wake (rule: RuleRecord, reason: TriggerReason): void {
    if (!this.#running) return
    const slot = this.#slot(rule)
    if (isCronSchedule(rule.schedule)) this.#armCron(slot, rule.schedule)
    if (wakeAsksForJob(rule, new Date(this.#timers.now()))) this.#trigger(slot, reason)
  }

  /** Asks for a job: it starts when the rule may run, now or when its window opens. */
  #trigger (slot: Slot, reason: TriggerReason): void {
    if (!this.#running) return
    this.#background(async () => {
      let rule: RuleRecord | undefined
      try {
        rule = await this.#rules.get(slot.machine, slot.to).catch(ifRemoved(undefined))
      } catch (err) {
        // the store failed (a full or failing disk): the rule is not removed, so it runs once
        // the store answers again, as after a failed job
        slot.failures++
        this.#armRetry(slot, `cannot read the rule: ${messageWithCauses(err)}`)
        throw err
      }
      if (rule == null || this.#slots.get(slot.key) !== slot) return
      const now = new Date(this.#timers.now())
      switch (triggerOutcome(rule, slot, reason, whyCannotSend(this.#peers, rule.to) == null, now)) {
        case 'ignore': return
        case 'again':
          slot.again = true
          return
        case 'wait-for-window':
          this.#deferToWindow(slot, rule, now, reason)
          return
        case 'queue':
          if (this.#queue.add(slot)) this.#pump()
      }
    })
  }

  #deferToWindow (slot: Slot, rule: RuleRecord, now: Date, reason: TriggerReason): void {
    if (slot.window != null || rule.window == null) return
    const opens = nextWindowStart(rule.window, now)
    slot.window = this.#timers.at(opens.getTime(), () => {
      slot.window = undefined
      this.#trigger(slot, 'window')
    })
    this.#events.emit('replication.deferred',
      `replication of ${rule.machine} to ${this.#label(rule.to)} waits for its window ${rule.window} (opens ${opens.toISOString()}; asked for by ${reason})`,
      { machine: rule.machine, to: rule.to, window: rule.window, opensAt: opens.toISOString(), reason })
  }

  #armCron (slot: Slot, schedule: string): void {
    if (slot.cron != null) return
    const next = nextCronRun(schedule, new Date(this.#timers.now()))
    if (next == null) return
    slot.cron = this.#timers.at(next.getTime(), () => {
      slot.cron = undefined
      if (!this.#running || this.#slots.get(slot.key) !== slot) return
      this.#trigger(slot, 'schedule')
      this.#armCron(slot, schedule)
    })
  }

  // --- jobs ------------------------------------------------------------------------------------

  /** Starts the queued jobs there are places for. */
  #pump (): void {
    while (this.#running) {
      const slot = this.#queue.next()
      if (slot == null) break
      this.#startJob(slot)
    }
    this.#quiet.settle()
  }

  #startJob (slot: Slot): void {
    const waiters = slot.waiting.splice(0)
    const job = newJob(waiters, this.#timers.now())
    slot.job = job
    slot.again = false
    this.#queue.started()
    job.done = this.#runner.run(slot, job, waiters).finally(() => {
      this.#queue.ended()
      slot.job = undefined
      this.#afterJob(slot)
    })
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

  /** A job failed (`slot.failures` counts it): the next trigger waits for the retry, which runs it. */
  #armRetry (slot: Slot, message: string): void {
    if (!this.#running || this.#slots.get(slot.key) !== slot) return
    slot.again = false
    const delay = retryDelay(this.#retryDelays, slot.failures)
    if (slot.retry != null) this.#timers.clear(slot, 'retry')
    slot.retry = this.#timers.at(this.#timers.now() + delay, () => {
      slot.retry = undefined
      this.#trigger(slot, 'retry')
    })
    this.#events.emit('replication.retry',
      `replication of ${slot.machine} to ${this.#label(slot.to)} failed (${message}); retry ${slot.failures} in ${formatDelay(delay)}`,
      { machine: slot.machine, to: slot.to, attempt: slot.failures, delayMs: delay, error: message }, 'warning')
  }

  // --- plumbing ----------------------------------------------------------------------------------

  #slot (rule: RuleRecord): Slot {
    const key = RuleStore.key(rule.machine, rule.to)
    let slot = this.#slots.get(key)
    if (slot == null) {
      slot = newSlot(key, rule.machine, rule.to)
      this.#slots.set(key, slot)
    }
    return slot
  }

  #label (peerId: string): string {
    return this.#peers.get(peerId)?.name ?? peerId
  }

  /** Runs trigger handling that reads the store; `idle()` waits for it. Nothing runs once stopped. */
  #background (work: () => Promise<void>): void {
    if (!this.#running) return
    this.#quiet.run(work, (err: any) => {
      this.#events.emit('replication.scheduler-error', `the replication scheduler failed to handle a trigger: ${err?.message ?? err}`, {}, 'error')
    })
  }
}
