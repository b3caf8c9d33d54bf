import { CID } from 'multiformats/cid'
import { decodeBody } from './block-codec.ts'
import { blocksSublevel, packsSublevel } from './sublevels.ts'
import { encodeLocation } from './location.ts'
import { PACK_HEADER_SIZE, parsePackFileName } from './pack-format.ts'
import { scanPack } from './pack-scanner.ts'
import type { OpenPackFile } from './pack-files.ts'
import { localPackStorage, packPath } from './storage.ts'
import type { PackStorage } from './storage.ts'
import { packKey } from './recovery.ts'
import type { RootDb } from './sublevels.ts'

export interface RebuildResult {
  packs: number
  /** blocks indexed */
  blocks: number
  /** records whose body did not match their CID: left out of the index */
  corrupt: string[]
  /** packs whose records stop parsing before the file ends, and why; their tail is cut on open */
  damaged: string[]
}

const BATCH = 4096

/**
 * Rebuilds the `blocks` and `packs` sublevels from the pack files alone, for when the index was
 * lost. Every record is rehashed; only blocks that verify are indexed. Other sublevels (points,
 * refs) are not the store's and are not touched. Run it with the store closed.
 */
export async function rebuildBlockIndex (options: { dir?: string, storage?: PackStorage, db: RootDb, openFile?: OpenPackFile, onPack?: (done: number, total: number) => void }): Promise<RebuildResult> {
  const { db } = options
  const storage = options.storage ?? localPackStorage(options.dir ?? '', { openFile: options.openFile })
  const { location: dir, openFile, directory } = storage
  const blocks = blocksSublevel(db)
  const packs = packsSublevel(db)
  await blocks.clear()
  await packs.clear()
  const result: RebuildResult = { packs: 0, blocks: 0, corrupt: [], damaged: [] }
  const numbers = (await directory.readdir(dir)).map(parsePackFileName).filter((n) => n !== undefined).sort((a, b) => a - b)
  for (const pack of numbers) {
    options.onPack?.(result.packs, numbers.length)
    const path = packPath(dir, pack)
    const size = await directory.size(path)
    const handle = await openFile(path, 'r')
    let end = PACK_HEADER_SIZE
    let batch: any[] = []
    try {
      for await (const item of scanPack(handle, path, size)) {
        if ('problem' in item) {
          result.damaged.push(item.problem)
          end = item.at
          break
        }
        for (const record of item.records) {
          end = record.end
          let cid: CID
          try {
            // the record's CID is a view of the scan window; the batch outlives the window
            cid = CID.decode(record.cid.slice())
            const bytes = await decodeBody(cid, record.flags, record.body)
            batch.push({
              type: 'put',
              sublevel: blocks,
              key: cid.bytes,
              value: encodeLocation({ flags: record.flags, pack, offset: record.bodyOffset, storedLength: record.body.length, rawLength: bytes.length })
            })
            result.blocks++
          } catch (err) {
            result.corrupt.push(`pack ${path} offset ${record.start}: ${(err as Error).message}`)
          }
          if (batch.length >= BATCH) {
            await db.batch(batch)
            batch = []
          }
        }
      }
    } finally {
      await handle.close()
    }
    // A file that is not a pack gets no record, so opening the store refuses it instead of deleting it.
    if (end > 0) batch.push({ type: 'put', sublevel: packs, key: packKey(pack), value: end })
    await db.batch(batch, { sync: true })
    if (end > 0) result.packs++
  }
  return result
}
