import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { lstat, readdir, readFile, readlink } from 'node:fs/promises'
import { join } from 'node:path'

export interface TreeEntry {
  type: 'file' | 'dir' | 'symlink'
  mode: number
  /** milliseconds, truncated: what utimes can restore */
  mtime: number
  size?: number
  sha256?: string
  target?: string
}

/** A comparable snapshot of a directory tree: relative path → entry. */
export async function snapshotTree (root: string): Promise<Record<string, TreeEntry>> {
  const out: Record<string, TreeEntry> = {}
  async function walk (dir: string, rel: string): Promise<void> {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name)
      const key = rel === '' ? name : `${rel}/${name}`
      const st = await lstat(path)
      if (st.isSymbolicLink()) {
        out[key] = { type: 'symlink', mode: 0, mtime: 0, target: await readlink(path) }
      } else if (st.isDirectory()) {
        out[key] = { type: 'dir', mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs) }
        await walk(path, key)
      } else {
        const data = await readFile(path)
        out[key] = { type: 'file', mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs), size: st.size, sha256: createHash('sha256').update(data).digest('hex') }
      }
    }
  }
  await walk(root, '')
  return out
}

export async function sha256File (path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex')
}

/** Asserts two snapshots are equal, naming the first path that differs (a large tree's diff is unreadable). */
export function assertSameTree (actual: Record<string, TreeEntry>, expected: Record<string, TreeEntry>): void {
  const paths = [...new Set([...Object.keys(actual), ...Object.keys(expected)])].sort()
  for (const path of paths) {
    assert.deepEqual(actual[path], expected[path], `the restored tree differs at ${path}`)
  }
}
