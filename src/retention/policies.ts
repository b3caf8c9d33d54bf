import { jsonSublevel } from '../store/index.ts'
import type { JsonSublevel, RootDb } from '../store/index.ts'
import type { MachineRef } from '../points/api.ts'
import type { PolicyView } from './view.ts'

/** A standing policy: one machine's (of one tenant and origin), or the default (`machine` null). */
export interface PolicyRecord {
  tenant: string | null
  origin: string | null
  machine: string | null
  policy: PolicyView
  setAt: string
}

const SEP = '\x00'
const DEFAULT_KEY = 'default'

/**
 * The standing retention policies (sublevel `retention`; key `machine NUL tenant NUL origin NUL
 * name`, or `default`). The rollup applies a machine's own policy, else the default; a machine
 * with neither keeps every point.
 */
export class RetentionPolicies {
  readonly #records: JsonSublevel<PolicyRecord>

  constructor (db: RootDb) {
    this.#records = jsonSublevel<PolicyRecord>(db, 'retention')
  }

  /** The machine's own policy (ref), or the default (null). */
  async get (ref: MachineRef | null): Promise<PolicyRecord | undefined> {
    return await this.#records.get(keyOf(ref))
  }

  /** The policy the rollup applies to a machine, and where it comes from. */
  async effective (ref: MachineRef): Promise<{ record: PolicyRecord, from: 'machine' | 'default' } | undefined> {
    const own = await this.get(ref)
    if (own !== undefined) return { record: own, from: 'machine' }
    const fallback = await this.get(null)
    return fallback === undefined ? undefined : { record: fallback, from: 'default' }
  }

  async set (ref: MachineRef | null, policy: PolicyView): Promise<PolicyRecord> {
    const record: PolicyRecord = { tenant: ref?.tenant ?? null, origin: ref?.origin ?? null, machine: ref?.machine ?? null, policy, setAt: new Date().toISOString() }
    await this.#records.put(keyOf(ref), record)
    return record
  }

  /** Removes a policy; returns whether there was one. */
  async clear (ref: MachineRef | null): Promise<boolean> {
    const key = keyOf(ref)
    if (await this.#records.get(key) === undefined) return false
    await this.#records.del(key)
    return true
  }

  /** Every machine's own policy (the default is `get(null)`). */
  async machines (): Promise<PolicyRecord[]> {
    return (await this.#records.values().all()).filter(r => r.machine !== null)
  }
}

function keyOf (ref: MachineRef | null): string {
  return ref === null ? DEFAULT_KEY : ['machine', ref.tenant, ref.origin, ref.machine].join(SEP)
}
