import type { CID } from 'multiformats/cid'
import { cidKey } from '../points/blocks.ts'
import { diffClosure } from '../points/closure.ts'
import { loadManifest } from '../points/manifest.ts'
import type { SignedPoint } from '../points/api.ts'
import type { BlockStore } from '../store/api.ts'
import { RECENT_BLOCKS } from './constants.ts'

/**
 * A bounded set of block keys in two generations: when the young one is full it becomes the old
 * one and the previous old one is dropped. Memory stays flat; a block seen longer ago than that
 * may be reported unseen (a repeat on the seed, never a loss).
 */
export class RecentBlocks {
  readonly #limit: number
  #young = new Set<string>()
  #old = new Set<string>()

  constructor (limit = RECENT_BLOCKS) {
    this.#limit = limit
  }

  /** Adds the key; false when it was already there. */
  add (key: string): boolean {
    if (this.#young.has(key) || this.#old.has(key)) return false
    if (this.#young.size >= this.#limit) {
      this.#old = this.#young
      this.#young = new Set()
    }
    this.#young.add(key)
    return true
  }
}

/**
 * Every block a seed carries, in a fixed order: machine by machine, each machine's points oldest
 * first, each point as its Merkle diff (`diffClosure`) against the previous point of the same
 * machine on the seed, so subtrees it shares with that point are skipped without remembering
 * them. Blocks shared across machines or far apart in a chain are caught by a bounded set of
 * recent blocks. The union is every block of every point's closure; a few may repeat (see
 * docs/seed-drives.md, "Deduplication").
 *
 * The order depends only on the points and the store's contents, so the planning pass and the
 * writing pass see the same sequence.
 */
export async function * seedBlocks (store: BlockStore, machines: Array<{ points: Array<{ point: string }> }>): AsyncGenerator<CID> {
  const recent = new RecentBlocks()
  for (const machine of machines) {
    let previous: SignedPoint | null = null
    for (const { point } of machine.points) {
      const signed: SignedPoint = await loadManifest(store, point)
      for await (const cid of diffClosure(store, signed, previous)) {
        if (recent.add(cidKey(cid))) yield cid
      }
      previous = signed
    }
  }
}
