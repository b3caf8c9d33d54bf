/**
 * Test support: disk damage to blocks of a repository, done to its pack files directly (as a
 * failing disk would), so it works while a daemon holds the repository's lock.
 */
import { open, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { parsePackFileName } from '../../src/store/pack-format.ts'
import { scanPack } from '../../src/store/pack-scanner.ts'

export interface BlockCopy {
  path: string
  /** position of the record body in the pack */
  bodyOffset: number
  bodyLength: number
}

/** Every record of `cid` in the repository's packs (a block may be stored more than once). */
export async function blockCopies (repo: string, cid: CID): Promise<BlockCopy[]> {
  const dir = join(repo, 'packs')
  const copies: BlockCopy[] = []
  for (const name of (await readdir(dir)).sort()) {
    if (parsePackFileName(name) === undefined) continue
    const path = join(dir, name)
    const handle = await open(path, 'r')
    try {
      for await (const item of scanPack(handle, path, (await stat(path)).size)) {
        if ('problem' in item) break
        for (const record of item.records) {
          if (Buffer.from(record.cid).equals(cid.bytes)) copies.push({ path, bodyOffset: record.bodyOffset, bodyLength: record.body.length })
        }
      }
    } finally {
      await handle.close()
    }
  }
  return copies
}

/**
 * Changes one byte in the middle of a record body (adds 1: damaging a copy twice never restores
 * it, as inverting would).
 */
export async function damageCopy (copy: BlockCopy): Promise<void> {
  const handle = await open(copy.path, 'r+')
  try {
    const at = copy.bodyOffset + Math.floor(copy.bodyLength / 2)
    const byte = Buffer.alloc(1)
    await handle.read(byte, 0, 1, at)
    byte[0] = (byte[0] + 1) & 0xff
    await handle.write(byte, 0, 1, at)
    await handle.datasync()
  } finally {
    await handle.close()
  }
}

/** Damages every stored copy of `cid`; returns how many there were (throws when none). */
export async function damageBlock (repo: string, cid: CID): Promise<number> {
  const copies = await blockCopies(repo, cid)
  if (copies.length === 0) throw new Error(`block ${cid} is not in any pack of ${repo}`)
  for (const copy of copies) await damageCopy(copy)
  return copies.length
}
