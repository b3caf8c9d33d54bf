/**
 * Test support: real data nobody on the project wrote. Trees copied from this machine's system
 * directories, and ext4 images built from them with `mke2fs -d`.
 */
import { execFile } from 'node:child_process'
import { cp, mkdir, readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { CID } from 'multiformats/cid'
import { createChunker } from '../../src/chunker/index.ts'
import { rawCid } from '../../src/points/blocks.ts'

const run = promisify(execFile)

/** Copies each source directory (dereferencing nothing, keeping modes and times) under `dest`. */
export async function copySystemTree (dest: string, sources: string[]): Promise<void> {
  await mkdir(dest, { recursive: true })
  for (const source of sources) {
    await cp(source, join(dest, source.replaceAll('/', '_').replace(/^_/, '')), { recursive: true, preserveTimestamps: true, verbatimSymlinks: true })
  }
}

/** An ext4 image of `bytes` holding `dir` (`mke2fs -q -F -t ext4 -d dir img`). */
export async function ext4Image (path: string, dir: string, bytes: number): Promise<void> {
  await run('truncate', ['-s', String(bytes), path])
  await run('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', dir, path])
}

/**
 * A regular file under `dir` between `min` and `max` bytes (a one-chunk file below the chunker's
 * minimum size), and its content's CID: the file's single raw block.
 */
export async function oneChunkFile (dir: string, min = 4096, max = 15 * 1024): Promise<{ path: string, cid: CID }> {
  for (const entry of (await readdir(dir, { recursive: true, withFileTypes: true })).sort((a, b) => join(a.parentPath, a.name) < join(b.parentPath, b.name) ? -1 : 1)) {
    if (!entry.isFile()) continue
    const path = join(entry.parentPath, entry.name)
    const size = (await stat(path)).size
    if (size >= min && size <= max) return { path, cid: rawCid(await readFile(path)) }
  }
  throw new Error(`no file of ${min} to ${max} bytes under ${dir}`)
}

/**
 * The raw chunks of a file as a backup cuts them (the project's chunker, default sizes), each
 * with its CID and offset, in file order.
 */
export async function fileChunks (path: string): Promise<Array<{ cid: CID, offset: number, length: number }>> {
  const bytes = await readFile(path)
  const chunker = createChunker()
  const out: Array<{ cid: CID, offset: number, length: number }> = []
  let offset = 0
  const take = (chunks: Iterable<Uint8Array>): void => {
    for (const chunk of chunks) {
      out.push({ cid: rawCid(chunk), offset, length: chunk.length })
      offset += chunk.length
    }
  }
  take(chunker.push(bytes))
  take(chunker.finish())
  return out
}

/** A chunk of the file that occurs once in it (a zeroed region repeats one chunk many times). */
export async function uniqueChunk (path: string, position = 0.5): Promise<CID> {
  const chunks = await fileChunks(path)
  const counts = new Map<string, number>()
  for (const c of chunks) counts.set(c.cid.toString(), (counts.get(c.cid.toString()) ?? 0) + 1)
  const unique = chunks.filter(c => counts.get(c.cid.toString()) === 1)
  if (unique.length === 0) throw new Error(`every chunk of ${path} repeats`)
  return unique[Math.min(unique.length - 1, Math.floor(unique.length * position))].cid
}
