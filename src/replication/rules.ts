import { jsonSublevel } from '../store/index.ts'
import type { JsonSublevel, RootDb } from '../store/index.ts'
import { NotFoundError, UserError } from '../errors.ts'

/**
 * A replication rule lives on the sending Core: "send machine M (or its cluster) to peer P".
 * Every topology is a set of rules (docs/architecture.md, "Topologies").
 */
export interface RuleRecord {
  /** machine as the operator named it (`web01`, or `tenant/web01` on a Core holding several) */
  machine: string
  /** target peer id */
  to: string
  /** `after-backup` (default) or a cron expression (5 or 6 fields) */
  schedule: string
  /** daily start window `HH:MM-HH:MM` (local time; may wrap midnight), or null for any time */
  window: string | null
  paused: boolean
  /** older points travel on a seed drive; only new points go over the network */
  seedDrive: boolean
  /**
   * seed-drive rules: ids of the points that existed when the rule was made; they are left to
   * the seed drive (not sent) until it is consumed on the target or abandoned
   */
  seedPoints: string[]
  /** seed-drive rules: where the seed stands */
  seedState: 'outstanding' | 'consumed' | 'abandoned' | null
  /** bytes per second, or null for unlimited */
  limit: number | null
  createdAt: string
  /**
   * the last job's outcome as stored: `running` from a job's start to its end (left by a crash,
   * a stop or a pause: unfinished work), `error` after a failure, `idle` after a success.
   * `replication list` shows `paused` for a paused rule, and the live state when the Core runs.
   */
  state: 'idle' | 'running' | 'paused' | 'error'
  lastPoint: string | null
  bytesSent: number
  error: string | null
  lastRunAt: string | null
  lastSuccessAt: string | null
}

export type NewRule = Pick<RuleRecord, 'machine' | 'to'> & Partial<Pick<RuleRecord, 'schedule' | 'window' | 'paused' | 'seedDrive' | 'seedPoints' | 'limit'>>

const WINDOW = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$/

export function parseWindow (text: string): { start: number, end: number } {
  const m = WINDOW.exec(text)
  if (m == null) throw new UserError(`not a window: "${text}" (use HH:MM-HH:MM, e.g. 22:00-06:00)`)
  return { start: Number(m[1]) * 60 + Number(m[2]), end: Number(m[3]) * 60 + Number(m[4]) }
}

/** true when `date` (local time) falls inside the daily window; a window may wrap midnight */
export function inWindow (window: string | null, date = new Date()): boolean {
  if (window == null) return true
  const { start, end } = parseWindow(window)
  const now = date.getHours() * 60 + date.getMinutes()
  return start <= end ? now >= start && now < end : now >= start || now < end
}

/**
 * Writes to one rule, per repository, in the order they were asked for. Several services hold a
 * RuleStore on the same database (the scheduler records job outcomes while an operator pauses the
 * rule or a seed changes its seed state), and `update` is a read-modify-write.
 */
const writeQueues = new WeakMap<RootDb, Map<string, Promise<unknown>>>()

/** Rules in the `rules` sublevel, keyed `<peer id>\0<machine>`. */
export class RuleStore {
  private readonly rules: JsonSublevel<RuleRecord>
  private readonly queues: Map<string, Promise<unknown>>

  constructor (db: RootDb) {
    this.rules = jsonSublevel<RuleRecord>(db, 'rules')
    let queues = writeQueues.get(db)
    if (queues === undefined) writeQueues.set(db, queues = new Map())
    this.queues = queues
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
    if (await this.rules.get(key) !== undefined) throw new UserError(`a rule already sends ${rule.machine} to ${rule.to}; remove it first or use replication pause/resume`)
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
    if (rule === undefined) throw new NotFoundError(`no rule sends ${machine} to ${to}`)
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
    const previous = this.queues.get(key) ?? Promise.resolve()
    const next = previous.then(fn, fn)
    const settled = next.then(() => {}, () => {})
    this.queues.set(key, settled)
    void settled.then(() => { if (this.queues.get(key) === settled) this.queues.delete(key) })
    return await next
  }
}
