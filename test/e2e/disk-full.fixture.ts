/**
 * Real data for the disk-full tests: copies of this machine's system directories and an ext4
 * image built from one with `mke2fs -d`, so the store compresses, dedups and splits what real
 * disks hold (random bytes never compress and never repeat).
 */
import { execFile } from 'node:child_process'
import { access, constants, lstat, mkdir, readdir, rm, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const MiB = 1024 * 1024

/** The tree the tests back up: Perl's library and /etc (about 25 MiB, 1500 files). */
export const TREE_SOURCES = ['/usr/share/perl', '/etc']
/** What the image holds: helper programs (about 50 MiB). */
export const IMAGE_SOURCES = ['/usr/libexec']

/** `cp -a` of `sources` into `dest`, without what a backup could not read (sockets, unreadable files). */
export async function copySystemDirs (dest: string, sources: string[]): Promise<void> {
  await mkdir(dest, { recursive: true })
  try {
    await run('cp', ['-a', '--', ...sources, dest])
  } catch (err) {
    // cp exits 1 when some entries cannot be read: what it copied is the tree
    if ((err as { code?: unknown }).code !== 1) throw err
  }
  await dropUnreadable(dest)
}

/** An ext4 image of `sources`, built as a user would (`mke2fs -q -F -t ext4 -d`). */
export async function buildImage (path: string, sources: string[], work: string): Promise<void> {
  const stage = join(work, 'image-stage')
  await copySystemDirs(stage, sources)
  const { stdout } = await run('du', ['-sb', stage])
  const bytes = Math.ceil((Number(stdout.split('\t')[0]) * 1.3 + 16 * MiB) / MiB) * MiB
  await rm(path, { force: true })
  await run('touch', [path])
  await truncate(path, bytes)
  await run('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', stage, path])
  await rm(stage, { recursive: true, force: true })
}

async function dropUnreadable (dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    const path = join(dir, name)
    const st = await lstat(path)
    if (st.isSymbolicLink()) continue
    const kept = st.isFile() || st.isDirectory()
    const readable = kept && await access(path, st.isDirectory() ? constants.R_OK | constants.X_OK : constants.R_OK).then(() => true, () => false)
    if (!readable) await rm(path, { recursive: true, force: true })
    else if (st.isDirectory()) await dropUnreadable(path)
  }
}
