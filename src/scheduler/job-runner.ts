import { isExpectedError, messageWithCauses, OperationalError, StoppingError, UserError } from '../errors.ts'
import { RuleNotFoundError } from '../rules/index.ts'
import type { RuleRecord, RuleStore } from '../rules/index.ts'
import type { ReplicationJobs, SchedulerEvents } from './api.ts'
import type { Job, Slot, Waiter } from './slot.ts'

export interface JobRunnerParts {
  rules: RuleStore
  jobs: ReplicationJobs
  events: SchedulerEvents
  /** the scheduler's clock */
  now: () => number
  /** a peer's name, or its id */
  label: (peerId: string) => string
  /** a job failed (`slot.failures` counts it already): arm its retry */
  retry: (slot: Slot, message: string) => void
}

/** The rule was paused between the trigger and the job's start. */
class RulePausedError extends UserError {
  override name = 'RulePausedError'
}

/**
 * Runs one job of a rule, from its start on record to its outcome on record: marks the rule
 * `running` on disk (a crash leaves it so, and the next start resumes), runs the engine's job
 * with its progress told live (`replication.progress`) and to the `now` callers, then records
 * success (`idle`), failure (`error`, and a retry) or an abort (paused, removed, stopping: not a
 * failure, the rule stays `running` so the next start or resume knows it has unfinished work).
 */
export class JobRunner {
  readonly #parts: JobRunnerParts

  constructor (parts: JobRunnerParts) {
    this.#parts = parts
  }

  async run (slot: Slot, job: Job, waiters: Waiter[]): Promise<void> {
    const { rules, jobs, label } = this.#parts
    const signal = job.controller.signal
    let rule: RuleRecord
    try {
      rule = await rules.update(slot.machine, slot.to, r => {
        if (r.paused) return
        r.state = 'running' // on disk until the job ends: a crash leaves it, and the next start resumes
        r.lastRunAt = this.#isoNow()
      })
      if (rule.paused) throw new RulePausedError(`replication of ${slot.machine} to ${label(slot.to)} is paused`)
      if (signal.aborted) throw signal.reason
    } catch (err: any) {
      for (const waiter of waiters) waiter.reject(err)
      // removed, paused or stopped meanwhile: no job is due; anything else (the store failed)
      // is a failed job, retried like one
      if (!(err instanceof RuleNotFoundError) && !signal.aborted && !(err instanceof RulePausedError)) {
        slot.failures++
        this.#parts.retry(slot, `cannot record the job's start: ${messageWithCauses(err)}`)
      }
      return
    }
    try {
      const outcome = await jobs.replicate(rule, {
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
      const to = label(slot.to)
      if (signal.aborted) {
        // paused, removed or stopping: not a failure; the job stays `running` on disk, so the
        // next start or resume knows it has unfinished work
        await this.#record(slot, r => { r.bytesSent += partial })
        const why = signal.reason instanceof Error ? signal.reason.message : 'it was stopped'
        const stopped = `replication of ${slot.machine} to ${to} stopped: ${why}`
        // a Core stopping is no refusal: asking again once it runs works
        for (const waiter of waiters) waiter.reject(signal.reason instanceof StoppingError ? new StoppingError(stopped) : new UserError(stopped))
        return
      }
      const message = String(err?.message ?? err)
      slot.failures++
      await this.#record(slot, r => {
        r.bytesSent += partial
        r.state = 'error'
        r.error = message
      })
      this.#parts.retry(slot, message)
      for (const waiter of waiters) waiter.reject(isExpectedError(err) ? err : new OperationalError(`replication of ${slot.machine} to ${to} failed: ${message}`))
    }
  }

  /** `replication.progress`, live only: the console and `drcore status` show running jobs. */
  #publishProgress (slot: Slot, job: Job, done: boolean): void {
    const p = job.progress!
    const seconds = (this.#parts.now() - job.startedAt) / 1000
    this.#parts.events.publish('replication.progress', `replicating ${slot.machine} to ${this.#parts.label(slot.to)}: point ${p.pointIndex} of ${p.points}, ${p.bytesSent} bytes`, {
      ...p,
      machine: slot.machine,
      to: slot.to,
      rate: seconds > 0 ? Math.round(p.bytesSent / seconds) : 0,
      startedAt: new Date(job.startedAt).toISOString(),
      done
    })
  }

  /**
   * Records a job's outcome on the rule, unless the rule was removed meanwhile. A store that
   * fails to record it is reported, and the rule goes on (its retry stays armed).
   */
  async #record (slot: Slot, change: (rule: RuleRecord) => void): Promise<void> {
    try {
      await this.#parts.rules.update(slot.machine, slot.to, change)
    } catch (err) {
      if (err instanceof RuleNotFoundError) return
      this.#parts.events.emit('replication.scheduler-error', `the replication scheduler could not record the job of ${slot.machine} to ${this.#parts.label(slot.to)}: ${messageWithCauses(err)}`, {}, 'error')
    }
  }

  #isoNow (): string {
    return new Date(this.#parts.now()).toISOString()
  }
}
