import { KEY_SEP, prefixRange } from '../common/keys.ts'
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

/**
 * Replication cursors (sublevel `cursors`, key `target NUL tenant NUL origin NUL machine`): per
 * link and machine, the last point the target acknowledged. The next point is sent as its
 * Merkle diff against the cursor's point, and "points behind" is counted from it without asking
 * the target. A cursor is a hint: if the target lost what it says, the target's `ack` reports
 * the point incomplete and the sender repairs it from the full closure.
 *
 * Next to each cursor, what the target said it lacks at the last status a job asked for
 * (sublevel `cursor-lacking`, same key -> point ids): points the cursor has passed can be lost
 * on the target since (a damaged disk there), and they count as behind until a job has
 * repaired them, also when this Core cannot (it lost them too).
 */
export class ReplicationCursors {
  readonly #cursors: JsonSublevel<ReplicationCursor>
  readonly #lacking: JsonSublevel<string[]>

  constructor (db: RootDb) {
    this.#cursors = jsonSublevel<ReplicationCursor>(db, 'cursors')
    this.#lacking = jsonSublevel<string[]>(db, 'cursor-lacking')
  }

  async get (to: string, ref: MachineRef): Promise<ReplicationCursor | undefined> {
    return await this.#cursors.get(key(to, ref))
  }

  /** Moves the cursor to `point`, never backwards (an older point acknowledged late keeps the newer). */
  async advance (to: string, ref: MachineRef, point: { point: string, seq: number }): Promise<void> {
    const lacking = await this.lacking(to, ref)
    if (lacking.has(point.point)) {
      lacking.delete(point.point)
      await this.setLacking(to, ref, lacking)
    }
    const current = await this.get(to, ref)
    if (current !== undefined && current.seq > point.seq) return
    await this.#cursors.put(key(to, ref), { point: point.point, seq: point.seq, at: new Date().toISOString() })
  }

  /** The machine's points the target lacked at the last status (empty when none, or never asked). */
  async lacking (to: string, ref: MachineRef): Promise<Set<string>> {
    return new Set(await this.#lacking.get(key(to, ref)) ?? [])
  }

  /** Records what the target lacks of the machine's points, as its status showed. */
  async setLacking (to: string, ref: MachineRef, points: Iterable<string>): Promise<void> {
    const ids = [...points]
    if (ids.length === 0) await this.#lacking.del(key(to, ref))
    else await this.#lacking.put(key(to, ref), ids)
  }

  /** Forgets the cursors of a machine's name on a target (every tenant and origin), and what it lacked. */
  async clear (to: string, machine: string): Promise<void> {
    const prefix = to + KEY_SEP
    for (const sublevel of [this.#cursors, this.#lacking] as JsonSublevel[]) {
      const keys: string[] = []
      for await (const k of sublevel.keys(prefixRange(prefix))) {
        if (k.endsWith(KEY_SEP + machine)) keys.push(k)
      }
      if (keys.length > 0) await sublevel.batch(keys.map(k => ({ type: 'del' as const, key: k })))
    }
  }
}

function key (to: string, ref: MachineRef): string {
  return [to, ref.tenant, ref.origin, ref.machine].join(KEY_SEP)
}
