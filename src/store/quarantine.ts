import { CID } from 'multiformats/cid'
import type { BlockLocation } from './location.ts'
import { jsonSublevel } from './sublevels.ts'
import type { JsonSublevel, RootDb } from './sublevels.ts'

/** Sublevel of blocks whose stored copy failed its check: CID string -> `QuarantineRecord`. */
export const DAMAGED_SUBLEVEL = 'damaged'

export interface QuarantineRecord {
  /** what was wrong with the stored copy */
  reason: string
  /** ISO time it was found */
  at: string
  /** where the damaged copy is: kept so that a copy that reads well again can be taken back */
  location: BlockLocation
}

export interface DamagedBlock extends QuarantineRecord {
  cid: CID
}

/**
 * Blocks whose stored copy was found damaged (it does not hash to its CID, does not decompress,
 * or cannot be read). Such a block is taken out of the `blocks` index, so that nothing answers
 * "have" for it any more: the next writer of the same bytes (a backup, a transfer, a seed drive,
 * `repair`) stores a good copy, which heals it, instead of deduplicating onto the damaged one.
 * The damaged copy stays in its pack until garbage collection; its location is kept here.
 *
 * The set of CIDs is held in memory (damage is rare and small), so a writer can tell on every
 * block whether it heals one without touching LevelDB.
 */
export class Quarantine {
  readonly sublevel: JsonSublevel<QuarantineRecord>
  readonly #cids: Set<string>

  private constructor (sublevel: JsonSublevel<QuarantineRecord>, cids: Set<string>) {
    this.sublevel = sublevel
    this.#cids = cids
  }

  static async open (db: RootDb): Promise<Quarantine> {
    const sublevel = jsonSublevel<QuarantineRecord>(db, DAMAGED_SUBLEVEL)
    const cids = new Set<string>()
    for await (const key of sublevel.keys()) cids.add(key)
    return new Quarantine(sublevel, cids)
  }

  has (cid: CID): boolean {
    return this.#cids.size > 0 && this.#cids.has(cid.toString())
  }

  get size (): number {
    return this.#cids.size
  }

  async get (cid: CID): Promise<QuarantineRecord | undefined> {
    return this.has(cid) ? await this.sublevel.get(cid.toString()) : undefined
  }

  /** Call once the batch that quarantined `cids` is written. */
  added (cids: Iterable<CID>): void {
    for (const cid of cids) this.#cids.add(cid.toString())
  }

  /** Call once the batch that stored good copies of `cids` is written. */
  removed (cids: Iterable<CID>): void {
    for (const cid of cids) this.#cids.delete(cid.toString())
  }

  async * list (): AsyncGenerator<DamagedBlock> {
    for await (const [key, record] of this.sublevel.iterator()) yield { cid: CID.parse(key), ...record }
  }
}
