import { CID } from 'multiformats/cid'
import type { VerifyResult } from './api.ts'
import { decodeBody } from './block-codec.ts'
import type { BlocksSublevel } from './sublevels.ts'
import { LOOKUP_BATCH } from './constants.ts'
import { decodeLocation } from './location.ts'
import type { BlockLocation } from './location.ts'
import type { PackRecord } from './pack-format.ts'
import type { OpenPackFile } from './pack-files.ts'
import { scanPack } from './pack-scanner.ts'
import type { ScanItem } from './pack-scanner.ts'

export interface VerifyContext {
  blocks: BlocksSublevel
  /** committed length of every pack */
  lengths: ReadonlyMap<number, number>
  pathOf: (pack: number) => string
  openFile: OpenPackFile
  /** the random-read path of `get()`: reads one block where the index says it is, and checks it */
  readBlock: (cid: CID, location: BlockLocation) => Promise<Uint8Array>
}

/**
 * Rehashes every indexed block in two passes:
 *
 * 1. Every pack is read front to back in large windows; each record that is the indexed copy of
 *    its block (same pack, same offset) is decompressed and rehashed. This covers nearly every
 *    block at sequential-read speed.
 * 2. The index is walked for blocks pass 1 did not reach: entries pointing past the end of a
 *    pack, into a missing pack, or into a pack whose records stop parsing. Each is read on its own,
 *    so the error says exactly what is wrong with it.
 */
export async function * verifyStore (ctx: VerifyContext, onProgress?: (done: number, total: number) => void): AsyncGenerator<VerifyResult> {
  const total = onProgress === undefined ? 0 : await countEntries(ctx.blocks)
  let done = 0
  const report = (result: VerifyResult): VerifyResult => {
    onProgress?.(++done, total)
    return result
  }
  /** body offsets verified in pass 1, ascending, per pack */
  const verified = new Map<number, number[]>()

  for (const [pack, length] of [...ctx.lengths].sort(([a], [b]) => a - b)) {
    if (length === 0) continue
    const offsets: number[] = []
    verified.set(pack, offsets)
    let handle
    try {
      handle = await ctx.openFile(ctx.pathOf(pack), 'r')
    } catch {
      continue // pass 2 names every block of a missing pack
    }
    try {
      for await (const item of tolerateReadErrors(scanPack(handle, ctx.pathOf(pack), length))) {
        if ('problem' in item) break // pass 2 reads whatever the scan could not reach
        for (let i = 0; i < item.records.length; i += LOOKUP_BATCH) {
          const records = item.records.slice(i, i + LOOKUP_BATCH)
          const values = await ctx.blocks.getMany(records.map((r) => r.cid))
          for (let j = 0; j < records.length; j++) {
            const value = values[j]
            if (value === undefined) continue // a copy nobody indexed: a duplicate
            const location = decodeLocation(value)
            if (location.pack !== pack || location.offset !== records[j].bodyOffset) continue
            offsets.push(location.offset)
            yield report(await checkRecord(records[j], location))
          }
        }
      }
    } finally {
      await handle.close()
    }
  }

  for await (const [key, value] of ctx.blocks.iterator()) {
    const location = decodeLocation(value)
    if (contains(verified.get(location.pack), location.offset)) continue
    const cid = CID.decode(key)
    yield report(await outcome(cid, async () => await ctx.readBlock(cid, location)))
  }
}

/**
 * The scan's items until a read fails: a read error (EIO, a disk that gives up) ends the scan of
 * that pack only. Pass 2 then reads each block the scan did not reach on its own, so the error
 * is reported for exactly the blocks it affects, and verify goes on with the next pack.
 */
async function * tolerateReadErrors (scan: AsyncGenerator<ScanItem>): AsyncGenerator<ScanItem> {
  for (;;) {
    let step: IteratorResult<ScanItem>
    try {
      step = await scan.next()
    } catch (err) {
      if (typeof (err as NodeJS.ErrnoException).code === 'string') return
      throw err
    }
    if (step.done === true) return
    yield step.value
  }
}

async function checkRecord (record: PackRecord, location: BlockLocation): Promise<VerifyResult> {
  // the record's CID is a view of the scan window, which is reused: the result keeps a copy
  const cid = CID.decode(record.cid.slice())
  return await outcome(cid, async () => await decodeBody(cid, location.flags, record.body, location.rawLength))
}

async function outcome (cid: CID, check: () => Promise<unknown>): Promise<VerifyResult> {
  try {
    await check()
    return { cid, ok: true }
  } catch (err) {
    return { cid, ok: false, error: err instanceof Error ? err.message : String(err) }
  }
}

async function countEntries (blocks: BlocksSublevel): Promise<number> {
  let n = 0
  for await (const _ of blocks.keys()) n++
  return n
}

/** Binary search in an ascending array. */
function contains (sorted: number[] | undefined, value: number): boolean {
  if (sorted === undefined) return false
  let lo = 0
  let hi = sorted.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    if (sorted[mid] === value) return true
    if (sorted[mid] < value) lo = mid + 1
    else hi = mid - 1
  }
  return false
}
