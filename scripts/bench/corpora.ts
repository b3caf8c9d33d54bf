/**
 * Benchmark corpora, built once under `<work>/corpora*` and reused across runs. Each corpus has
 * a `<name>.json` stamp next to it; a corpus whose stamp matches its parameters is not rebuilt.
 *
 * - tree:  a copy of a directory of real small files (`cp -a /usr/share`).
 * - image: an ext4 volume image (`mke2fs -t ext4 -d STAGING image SIZE`), not mounted, filled
 *          with real files from /usr/lib and /usr/share to a realistic fraction.
 */
import { copyFile, lstat, mkdir, readdir, readlink, rm, symlink, utimes, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { readJsonFile, run } from './lib.ts'

export interface TreeCorpus {
  kind: 'tree'
  path: string
  source: string
  files: number
  bytes: number
  builtAt: string
}

export interface ImageCorpus {
  kind: 'image'
  path: string
  sizeBytes: number
  sources: string[]
  /** Regular files and their bytes copied into the file system. */
  files: number
  contentBytes: number
  /** Fraction of the file system's blocks in use after mke2fs (includes ext4 metadata and journal). */
  fill: number
  builtAt: string
}

async function countTree (p: string): Promise<{ files: number, bytes: number }> {
  const { stdout } = await run('find', [p, '-type', 'f', '-printf', '%s\\n'])
  let files = 0
  let bytes = 0
  for (const line of stdout.split('\n')) {
    if (line === '') continue
    files++
    bytes += Number(line)
  }
  return { files, bytes }
}

/** A copy of `source` at `<dir>/<name>`; unreadable bits are skipped (cp keeps going). */
export async function treeCorpus (dir: string, name: string, source: string, log: (m: string) => void): Promise<TreeCorpus> {
  const target = path.join(dir, name)
  const stampPath = path.join(dir, `${name}.json`)
  const stamp = readJsonFile<TreeCorpus>(stampPath)
  if (stamp !== null && stamp.source === source && existsSync(target)) return stamp
  log(`building corpus ${name}: cp -a ${source}`)
  await rm(target, { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
  // cp exits 1 when some entries cannot be read; what it could copy is the corpus.
  const res = await run('cp', ['-a', source, target], { okCodes: [1] })
  if (res.code !== 0) log(`  cp reported unreadable entries (skipped): ${res.stderr.trim().split('\n').length} lines`)
  const counts = await countTree(target)
  const corpus: TreeCorpus = { kind: 'tree', path: target, source, ...counts, builtAt: new Date().toISOString() }
  await writeFile(stampPath, JSON.stringify(corpus, null, 2) + '\n')
  log(`  ${counts.files} files, ${counts.bytes} bytes`)
  return corpus
}

interface Entry { abs: string, rel: string }

/** Depth-first, name-sorted walk yielding regular files and symlinks. */
async function * walk (abs: string, rel: string): AsyncGenerator<Entry> {
  let names: string[]
  try { names = (await readdir(abs)).sort() } catch { return }
  for (const n of names) {
    const a = path.join(abs, n)
    const r = path.join(rel, n)
    let st
    try { st = await lstat(a) } catch { continue }
    if (st.isDirectory()) yield * walk(a, r)
    else if (st.isFile() || st.isSymbolicLink()) yield { abs: a, rel: r }
  }
}

/**
 * Copies files from the sources into `staging` until their block-rounded size reaches
 * `budget` bytes. Files are taken round-robin across the top-level folders of every source, so
 * the content mixes libraries, byte code, text, images and locales rather than one package.
 */
async function stage (staging: string, sources: string[], budget: number): Promise<{ files: number, bytes: number }> {
  const walkers: Array<AsyncGenerator<Entry>> = []
  for (const src of sources) {
    const top = path.basename(src)
    for (const n of (await readdir(src)).sort()) {
      const st = await lstat(path.join(src, n))
      if (st.isDirectory()) walkers.push(walk(path.join(src, n), path.join(top, n)))
    }
  }
  let used = 0
  let files = 0
  let bytes = 0
  const made = new Set<string>()
  while (walkers.length > 0 && used < budget) {
    for (let i = 0; i < walkers.length && used < budget; i++) {
      const next = await walkers[i].next()
      if (next.done === true) { walkers.splice(i, 1); i--; continue }
      const { abs, rel } = next.value
      const dest = path.join(staging, rel)
      const parent = path.dirname(dest)
      if (!made.has(parent)) { await mkdir(parent, { recursive: true }); made.add(parent) }
      const st = await lstat(abs)
      try {
        if (st.isSymbolicLink()) {
          await symlink(await readlink(abs), dest)
          used += 4096
          continue
        }
        await copyFile(abs, dest)
        await utimes(dest, st.atime, st.mtime)
      } catch { continue }
      files++
      bytes += st.size
      used += Math.ceil(st.size / 4096) * 4096 + 256 // data blocks + inode
    }
  }
  return { files, bytes }
}

/** `dumpe2fs -h`: fraction of blocks in use. */
async function imageFill (image: string): Promise<number> {
  const { stdout } = await run('dumpe2fs', ['-h', image])
  const get = (k: string): number => Number(stdout.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm'))?.[1])
  const total = get('Block count')
  const free = get('Free blocks')
  return (total - free) / total
}

/** ext4 metadata (inode tables, journal, bitmaps) of a fresh mke2fs, as a fraction of the size. */
const EXT4_OVERHEAD = 0.06

/**
 * An ext4 image of `sizeBytes` at `<dir>/<name>.img`, filled with real files to about `fill`.
 * The UUID and hash seed are fixed so the layout does not depend on randomness in mke2fs.
 */
export async function imageCorpus (dir: string, name: string, sizeBytes: number, fill: number, sources: string[], log: (m: string) => void): Promise<ImageCorpus> {
  const image = path.join(dir, `${name}.img`)
  const stampPath = path.join(dir, `${name}.json`)
  const stamp = readJsonFile<ImageCorpus & { targetFill: number }>(stampPath)
  if (stamp !== null && stamp.sizeBytes === sizeBytes && stamp.targetFill === fill &&
      stamp.sources.join() === sources.join() && existsSync(image)) return stamp
  const staging = path.join(dir, `${name}.staging`)
  log(`building corpus ${name}: ${sizeBytes / 2 ** 30} GiB ext4 image, target fill ${fill * 100}% from ${sources.join(', ')}`)
  await rm(staging, { recursive: true, force: true })
  await rm(image, { force: true })
  await mkdir(staging, { recursive: true })
  const { files, bytes } = await stage(staging, sources, (fill - EXT4_OVERHEAD) * sizeBytes)
  log(`  staged ${files} files, ${bytes} bytes; running mke2fs`)
  await run('mke2fs', [
    '-q', '-F', '-t', 'ext4',
    '-U', '6d3f1c2a-0b7e-4c59-9a51-2f6b1de0c0de',
    '-E', 'hash_seed=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0,root_owner=0:0',
    '-d', staging, image, String(sizeBytes / 1024) + 'k'
  ])
  await rm(staging, { recursive: true, force: true })
  const usedFraction = await imageFill(image)
  const corpus: ImageCorpus = {
    kind: 'image', path: image, sizeBytes, sources, files, contentBytes: bytes, fill: usedFraction, builtAt: new Date().toISOString()
  }
  await writeFile(stampPath, JSON.stringify({ ...corpus, targetFill: fill }, null, 2) + '\n')
  log(`  ${name}: ${(usedFraction * 100).toFixed(1)}% of blocks in use`)
  return corpus
}
