import { mkdir, stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'

/**
 * `mkdir -p`: creates `path` and the folders above it that are missing, each with `mode`;
 * resolves with the first folder it created (undefined when `path` existed), as Node's
 * `mkdir(path, { recursive: true })` does. Written out because Node's never returns where a
 * file system refuses to create a folder with ENOENT while its parent exists (`/proc/x`, `/sys/x`):
 * it creates the parent again and retries forever. Here the refusal is the error, thrown as
 * `mkdir` threw it (ENOENT, EACCES, EROFS ...), and a file in the way is ENOTDIR.
 */
export async function makeDirs (path: string, mode?: number): Promise<string | undefined> {
  const missing: string[] = []
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    let isDir: boolean
    try {
      isDir = (await stat(dir)).isDirectory()
    } catch (err) {
      // ENOTDIR: a file further up is in the way; it is found and named on the way up
      const code = (err as NodeJS.ErrnoException).code
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || dirname(dir) === dir) throw err
      missing.push(dir)
      continue
    }
    if (isDir) break
    throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}'`), { errno: -20, code: 'ENOTDIR', syscall: 'mkdir', path: dir })
  }
  for (const dir of missing.reverse()) {
    try {
      await mkdir(dir, { mode })
    } catch (err) {
      // another process made it meanwhile: as good
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !(await stat(dir)).isDirectory()) throw err
    }
  }
  return missing[0]
}
