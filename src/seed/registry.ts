import { NotFoundError, UserError } from '../errors.ts'
import { RuleNotFoundError } from '../rules/index.ts'
import type { RuleRecord, RuleStore } from '../rules/index.ts'
import { jsonSublevel } from '../store/index.ts'
import type { JsonSublevel, RootDb } from '../store/index.ts'
import { SEEDS_SUBLEVEL } from './constants.ts'
import type { SeedRecord, SeedState } from './api.ts'

/**
 * The seeds this Core wrote (sublevel `seeds`, key: seed id), and the link between a seed and
 * the seed-drive rules waiting for it: the rules' `seedState` follows the seed's state, which
 * is what the replication engine reads (an outstanding seed keeps `seedPoints` off the network).
 */
export class SeedRegistry {
  readonly #seeds: JsonSublevel<SeedRecord>
  readonly #rules: RuleStore

  constructor (db: RootDb, rules: RuleStore) {
    this.#seeds = jsonSublevel<SeedRecord>(db, SEEDS_SUBLEVEL)
    this.#rules = rules
  }

  /** Records a new seed and marks its rules' seed outstanding. */
  async add (record: SeedRecord): Promise<void> {
    await this.#seeds.put(record.seed, record)
    await this.#setRules(record, 'outstanding')
  }

  async get (seed: string): Promise<SeedRecord> {
    const record = await this.#seeds.get(seed)
    if (record === undefined) throw new NotFoundError(`unknown seed: ${seed} (drcore seed list shows the seeds this Core wrote)`)
    return record
  }

  /** Every seed this Core wrote, oldest first. */
  async list (): Promise<SeedRecord[]> {
    const records = await this.#seeds.values().all()
    return records.sort((a, b) => a.createdAt.localeCompare(b.createdAt))
  }

  /**
   * The outstanding seeds written for a rule, oldest first: its seed points wait for them. The
   * replication engine asks before a job, to learn from the target's answers which arrived.
   */
  async outstanding (rule: Pick<RuleRecord, 'machine' | 'to'>): Promise<Array<{ seed: string, machines: string[], points: string[] }>> {
    return (await this.list())
      .filter(seed => seed.state === 'outstanding' && seed.rules.some(w => w.machine === rule.machine && w.to === rule.to))
      .map(seed => ({ seed: seed.seed, machines: seed.machines.map(m => m.machine), points: seed.points }))
  }

  /**
   * Gives up on a seed: its rules' points go over the network with the next replication job.
   * Abandoning an abandoned seed changes nothing; a consumed seed cannot be abandoned.
   */
  async abandon (seed: string): Promise<{ record: SeedRecord, rules: RuleRecord[] }> {
    return await this.#transition(seed, 'abandoned', ['outstanding'])
  }

  /**
   * Records that the target holds the seed (called when the replication engine learns it, e.g.
   * from the target's answers about the seed's points).
   */
  async markConsumed (seed: string): Promise<{ record: SeedRecord, rules: RuleRecord[] }> {
    return await this.#transition(seed, 'consumed', ['outstanding', 'abandoned'])
  }

  async #transition (seed: string, state: SeedState, from: SeedState[]): Promise<{ record: SeedRecord, rules: RuleRecord[] }> {
    const record = await this.get(seed)
    if (record.state === state) return { record, rules: [] }
    if (!from.includes(record.state)) throw new UserError(`seed ${seed} is ${record.state}; it cannot become ${state}`)
    const updated: SeedRecord = { ...record, state, stateAt: new Date().toISOString() }
    await this.#seeds.put(seed, updated)
    return { record: updated, rules: await this.#setRules(updated, state) }
  }

  /** Sets `seedState` of the seed's rules that still exist and are still seed-drive rules. */
  async #setRules (record: SeedRecord, state: SeedState): Promise<RuleRecord[]> {
    const updated: RuleRecord[] = []
    for (const { machine, to } of record.rules) {
      try {
        updated.push(await this.#rules.update(machine, to, rule => {
          if (rule.seedDrive) rule.seedState = state
        }))
      } catch (err) {
        if (!(err instanceof RuleNotFoundError)) throw err // the rule was removed since
      }
    }
    return updated.filter(rule => rule.seedDrive)
  }
}
