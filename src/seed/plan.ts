import type { CID } from 'multiformats/cid'
import { MissingBlockError, UserError } from '../errors.ts'
import { readAhead } from '../common/concurrency.ts'
import type { BlockStore } from '../store/api.ts'
import { seedBlocks } from './blocks.ts'
import { sectionSize } from './car.ts'
import { SIZE_LOOKUPS } from './constants.ts'

/** What one part will hold. */
export interface PartPlan {
  /** data blocks */
  blocks: number
  /** bytes of those blocks */
  bytes: number
  /** bytes of their sections (framing included) */
  sectionBytes: number
}

export interface SeedLayout {
  parts: PartPlan[]
  blocks: number
  bytes: number
}

/**
 * The planning pass: walks the seed's blocks in writing order, reading only nodes (to follow
 * links) and the index (for sizes), and cuts the sequence into parts whose data sections fit in
 * `budget` bytes each. Knowing the part count before writing lets every part carry the final
 * descriptor, written once, at the front (docs/seed-drives.md, "Part count").
 */
export async function planParts (store: BlockStore, machines: Array<{ points: Array<{ point: string }> }>, budget: number,
  onBlock?: (blocks: number) => void): Promise<SeedLayout> {
  const parts: PartPlan[] = []
  let current: PartPlan = { blocks: 0, bytes: 0, sectionBytes: 0 }
  let blocks = 0
  let bytes = 0
  const sized = readAhead(seedBlocks(store, machines), SIZE_LOOKUPS, async cid => ({ cid, size: await sizeOf(store, cid) }))
  for await (const { cid, size } of sized) {
    const section = sectionSize(cid.bytes.length, size)
    if (section > budget) throw new PartTooSmallError(section)
    if (current.blocks > 0 && current.sectionBytes + section > budget) {
      parts.push(current)
      current = { blocks: 0, bytes: 0, sectionBytes: 0 }
    }
    current.blocks++
    current.bytes += size
    current.sectionBytes += section
    blocks++
    bytes += size
    onBlock?.(blocks)
  }
  if (current.blocks > 0) parts.push(current)
  return { parts, blocks, bytes }
}

/** A block does not fit in a part next to the descriptors; the caller names the sizes. */
export class PartTooSmallError extends UserError {
  override name = 'PartTooSmallError'
  readonly section: number
  constructor (section: number) {
    super(`a block section of ${section} bytes does not fit in a part`)
    this.section = section
  }
}

async function sizeOf (store: BlockStore, cid: CID): Promise<number> {
  const size = await store.size(cid)
  if (size === undefined) throw new MissingBlockError(cid.toString())
  return size
}
