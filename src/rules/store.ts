import { jsonSublevel } from '../store/index.ts'
import type { JsonSublevel, RootDb } from '../store/index.ts'
import { KeyedSerialQueue } from '../common/keyed-queue.ts'
import { NotFoundError, UserError } from '../errors.ts'
import { parseWindow } from './calendar.ts'
import type { NewRule, RuleRecord } from './record.ts'
import { DEFAULT_STREAMS } from './input.ts'

/**
 * No rule sends this machine to this peer: it was never added, or it was removed. The scheduler
 * tells a rule removed meanwhile by this class, and nothing else.
 */
export class RuleNotFoundError extends NotFoundError {
  override name = 'RuleNotFoundError'
  readonly machine: string
  readonly to: string
  constructor (machine: string, to: string) {
    super(`no rule sends ${machine} to ${to}`)
    this.machine = machine
    this.to = to
  }
}

/**
 * Rules in the `rules` sublevel, keyed `<peer id>\0<machine>`. A Core opens one RuleStore
 * (src/core/services.ts) and hands it to every service that reads or writes rules: the
 * operations, the scheduler (job outcomes), seeds (seed state) and repair. Writes to one rule run
 * in the order they were asked for, since `update` is a read-modify-write and those services
 * write the same rule at once (an operator pauses it while a job records its outcome).
 */
export class RuleStore {
  private readonly rules: JsonSublevel<RuleRecord>
  private readonly writes = new KeyedSerialQueue()

  constructor (db: RootDb) {
    this.rules = jsonSublevel<RuleRecord>(db, 'rules')
  }

  static key (machine: string, to: string): string {
    return `${to}\u0000${machine}`
  }

  async add (rule: NewRule): Promise<RuleRecord> {
    if (rule.window != null) parseWindow(rule.window)
    const key = RuleStore.key(rule.machine, rule.to)
    return await this.serial(key, async () => await this.insert(key, rule))
  }

  private async insert (key: string, rule: NewRule): Promise<RuleRecord> {
    if (await this.rules.get(key) !== undefined) throw new UserError(`a rule already sends ${rule.machine} to ${rule.to}; change it with drcore replication set, or pause or remove it`)
    const record: RuleRecord = {
      machine: rule.machine,
      to: rule.to,
      schedule: rule.schedule ?? 'after-backup',
      window: rule.window ?? null,
      paused: rule.paused ?? false,
      seedDrive: rule.seedDrive ?? false,
      seedPoints: rule.seedPoints ?? [],
      seedState: rule.seedDrive === true ? 'outstanding' : null,
      limit: rule.limit ?? null,
      streams: rule.streams ?? DEFAULT_STREAMS,
      createdAt: new Date().toISOString(),
      state: 'idle',
      lastPoint: null,
      bytesSent: 0,
      error: null,
      lastRunAt: null,
      lastSuccessAt: null
    }
    await this.rules.put(key, record)
    return record
  }

  async get (machine: string, to: string): Promise<RuleRecord> {
    const rule = await this.rules.get(RuleStore.key(machine, to))
    if (rule === undefined) throw new RuleNotFoundError(machine, to)
    return rule
  }

  async list (): Promise<RuleRecord[]> {
    return await this.rules.values().all()
  }

  /** Applies `change` to the stored rule and returns the result (read-modify-write). */
  async update (machine: string, to: string, change: (rule: RuleRecord) => void): Promise<RuleRecord> {
    const key = RuleStore.key(machine, to)
    return await this.serial(key, async () => {
      const rule = await this.get(machine, to)
      change(rule)
      await this.rules.put(key, rule)
      return rule
    })
  }

  async remove (machine: string, to: string): Promise<void> {
    const key = RuleStore.key(machine, to)
    await this.serial(key, async () => {
      await this.get(machine, to)
      await this.rules.del(key)
    })
  }

  private async serial<T> (key: string, fn: () => Promise<T>): Promise<T> {
    return await this.writes.run(key, fn)
  }
}
