import { jsonSublevel } from '../store/index.ts'
import type { JsonSublevel, RootDb } from '../store/index.ts'
import type { MachineRef } from '../points/api.ts'

/** The newest point of a machine that a target holds, as far as this Core knows. */
export interface ReplicationCursor {
  point: string
  seq: number
  /** ISO time of the acknowledgement (or of the status that showed the point there) */
  at: string
}

const SEP = '\x00'

/**
 * Replication cursors (sublevel `cursors`, key `target NUL tenant NUL origin NUL machine`): per
 * link and machine, the last point the target acknowledged. The next point is sent as its
 * Merkle diff against the cursor's point, and "points behind" is counted from it without asking
 * the target. A cursor is a hint: if the target lost what it says, the target's `ack` reports
 * the point incomplete and the sender repairs it from the full closure.
 */
export class ReplicationCursors {
  readonly #cursors: JsonSublevel<ReplicationCursor>

  constructor (db: RootDb) {
    this.#cursors = jsonSublevel<ReplicationCursor>(db, 'cursors')
  }

  async get (to: string, ref: MachineRef): Promise<ReplicationCursor | undefined> {
    return await this.#cursors.get(key(to, ref))
  }

  /** Moves the cursor to `point`, never backwards (an older point acknowledged late keeps the newer). */
  async advance (to: string, ref: MachineRef, point: { point: string, seq: number }): Promise<void> {
    const current = await this.get(to, ref)
    if (current !== undefined && current.seq > point.seq) return
    await this.#cursors.put(key(to, ref), { point: point.point, seq: point.seq, at: new Date().toISOString() })
  }

  /** Forgets the cursors of a machine's name on a target (every tenant and origin). */
  async clear (to: string, machine: string): Promise<void> {
    const prefix = to + SEP
    const keys: string[] = []
    for await (const k of this.#cursors.keys({ gte: prefix, lt: prefix + '\uffff' })) {
      if (k.endsWith(SEP + machine)) keys.push(k)
    }
    if (keys.length > 0) await this.#cursors.batch(keys.map(k => ({ type: 'del' as const, key: k })))
  }
}

function key (to: string, ref: MachineRef): string {
  return [to, ref.tenant, ref.origin, ref.machine].join(SEP)
}
