import type { CID } from 'multiformats/cid'
import { MissingBlockError, UserError } from '../errors.ts'
import { readAhead } from '../common/concurrency.ts'
import type { BlockStore } from '../store/api.ts'
import { seedBlocks } from './blocks.ts'
import { zstSectionBound } from './car.ts'
import { SIZE_LOOKUPS } from './constants.ts'

/** What one part will hold. */
export interface PartPlan {
  /** data blocks */
  blocks: number
  /** bytes of those blocks */
  bytes: number
  /** bytes of their sections (framing included), at most */
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
 * `budget` bytes each. A section is sized at the larger of its two `.car.zst` layouts (the
 * index knows the stored size, not how the body was stored), so no part exceeds its budget. Knowing the part count before writing lets every part carry the final
 * descriptor, written once, at the front (docs/seed-drives.md, "Part count").
 */
export async function planParts (store: BlockStore, machines: Array<{ points: Array<{ point: string }> }>, budget: number,
  onBlock?: (blocks: number) => void): Promise<SeedLayout> {
  const parts: PartPlan[] = []
  let current: PartPlan = { blocks: 0, bytes: 0, sectionBytes: 0 }
  let blocks = 0
  let bytes = 0
  const sized = readAhead(seedBlocks(store, machines), SIZE_LOOKUPS, async cid => ({ cid, ...await sizesOf(store, cid) }))
  for await (const { cid, size, storedSize } of sized) {
    const section = zstSectionBound(cid.bytes.length, size, storedSize)
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

async function sizesOf (store: BlockStore, cid: CID): Promise<{ size: number, storedSize: number }> {
  const [size, storedSize] = [await store.size(cid), await store.storedSize(cid)]
  if (size === undefined || storedSize === undefined) throw new MissingBlockError(cid.toString())
  return { size, storedSize }
}
