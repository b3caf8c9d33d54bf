import { CID } from 'multiformats/cid'
import type { BlockWriter } from './api.ts'
import { decodeBody } from './block-codec.ts'
import type { PackFileHandle, OpenPackFile } from './pack-files.ts'
import { scanPack } from './pack-scanner.ts'

export interface SalvageContext {
  /** committed length of every pack */
  lengths: ReadonlyMap<number, number>
  pathOf: (pack: number) => string
  openFile: OpenPackFile
  writer: () => BlockWriter
}

/**
 * Looks through every pack for a good copy of each block of `cids` and stores it through a
 * writer. Packs are append-only and a block can be in them more than once: two writers that
 * stored the same bytes at the same time, or a copy written before the indexed one was found
 * damaged. Every candidate is decompressed and rehashed; the first that verifies is stored
 * (which heals a quarantined block). Returns the CIDs stored.
 *
 * A pack that cannot be opened or read, or whose records stop parsing, is skipped from there on:
 * salvage takes what it can find and never fails for damage.
 */
export async function salvageBlocks (ctx: SalvageContext, cids: Iterable<CID>): Promise<CID[]> {
  const wanted = new Map<string, CID>()
  for (const cid of cids) wanted.set(keyOf(cid.bytes), cid)
  const found: CID[] = []
  if (wanted.size === 0) return found
  const writer = ctx.writer()
  try {
    for (const [pack, length] of [...ctx.lengths].sort(([x], [y]) => x - y)) {
      if (wanted.size === 0) break
      if (length === 0) continue
      let handle: PackFileHandle
      try {
        handle = await ctx.openFile(ctx.pathOf(pack), 'r')
      } catch {
        continue
      }
      try {
        for await (const item of scanPack(handle, ctx.pathOf(pack), length)) {
          if ('problem' in item) break
          for (const record of item.records) {
            const cid = wanted.get(keyOf(record.cid))
            if (cid === undefined) continue
            let bytes: Uint8Array
            try {
              bytes = await decodeBody(cid, record.flags, record.body)
            } catch {
              continue // a damaged copy: maybe another one further on
            }
            wanted.delete(keyOf(record.cid))
            // put copies the bytes before it returns: the scan window may be reused after;
            // false: another writer stored the block meanwhile
            if (await writer.put(cid, bytes)) found.push(cid)
          }
        }
      } catch {
        // a read error ends this pack's scan; the next pack may hold a copy
      } finally {
        await handle.close()
      }
    }
    await writer.commit()
  } catch (err) {
    await writer.abort()
    throw err
  }
  return found
}

function keyOf (cidBytes: Uint8Array): string {
  return Buffer.from(cidBytes).toString('latin1')
}
