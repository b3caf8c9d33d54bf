/**
 * A day's change to the benchmark's data, deterministic from a seed: files of a tree edited,
 * added and deleted, and the same inside an ext4 image (through `debugfs`, without mounting it,
 * so the file system stays consistent from one day to the next). Added files are real ones,
 * taken from system directories the corpora were not built from.
 */
import { copyFile, lstat, mkdir, open, readdir, rm, writeFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Prng, randomStream, run } from './lib.ts'

/** Bytes overwritten in each edited file (at a seeded offset; an empty file gets them appended). */
export const EDIT_BYTES = 100

interface TreeFile { size: number, rel: string }

async function treeFiles (root: string): Promise<TreeFile[]> {
  const { stdout } = await run('find', [root, '-type', 'f', '-printf', '%s %P\\0'])
  return stdout.split('\0').filter(s => s !== '').map(s => {
    const i = s.indexOf(' ')
    return { size: Number(s.slice(0, i)), rel: s.slice(i + 1) }
  }).sort((a, b) => a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0)
}

function choose (prng: Prng, n: number, of: number): number[] {
  const chosen = new Set<number>()
  while (chosen.size < Math.min(n, of)) chosen.add(prng.below(of))
  return [...chosen].sort((x, y) => x - y)
}

/**
 * Edits of a tree: `fraction` of its regular files (chosen by a PRNG of `seed` from the
 * name-sorted list) get EDIT_BYTES random bytes written over them at a seeded offset. Their
 * mtimes change, so every tool sees them as modified.
 */
export async function editTree (root: string, fraction: number, seed: string): Promise<{ files: number, edited: number, bytes: number }> {
  const files = await treeFiles(root)
  const n = Math.round(files.length * fraction)
  const prng = new Prng(seed)
  const random = randomStream(seed)
  let bytes = 0
  for (const i of choose(prng, n, files.length)) {
    const f = files[i]
    const at = f.size <= EDIT_BYTES ? 0 : prng.below(f.size - EDIT_BYTES + 1)
    const fh = await open(path.join(root, f.rel), 'r+')
    try { await fh.write(random(EDIT_BYTES), 0, EDIT_BYTES, at) } finally { await fh.close() }
    bytes += EDIT_BYTES
  }
  return { files: files.length, edited: n, bytes }
}

// ---------------------------------------------------------------------------------------------
// Files to add

/** Regular files of system directories, in a seeded order, handed out a day's worth at a time. */
export class AdditionPool {
  readonly #files: Array<{ abs: string, size: number }>
  #next = 0

  private constructor (files: Array<{ abs: string, size: number }>) { this.#files = files }

  static async of (sources: string[], seed: string): Promise<AdditionPool> {
    const files: Array<{ abs: string, size: number }> = []
    const walk = async (dir: string): Promise<void> => {
      let names: string[]
      try { names = (await readdir(dir)).sort() } catch { return }
      for (const n of names) {
        const abs = path.join(dir, n)
        const st = await lstat(abs).catch(() => null)
        if (st === null) continue
        if (st.isDirectory()) await walk(abs)
        else if (st.isFile() && st.size > 0) files.push({ abs, size: st.size })
      }
    }
    for (const s of sources) await walk(s)
    const prng = new Prng(seed)
    for (let i = files.length - 1; i > 0; i--) {
      const j = prng.below(i + 1)
      ;[files[i], files[j]] = [files[j], files[i]]
    }
    return new AdditionPool(files)
  }

  /** The next files, about `bytes` of them (at least one), each readable; wraps around at the end. */
  take (bytes: number): Array<{ abs: string, size: number }> {
    const out: Array<{ abs: string, size: number }> = []
    let sum = 0
    for (let tries = 0; tries < this.#files.length && (out.length === 0 || sum < bytes); tries++) {
      const f = this.#files[this.#next]
      this.#next = (this.#next + 1) % this.#files.length
      if (f.size > Math.max(bytes, 1 << 20)) continue
      out.push(f)
      sum += f.size
    }
    return out
  }
}

/** A name for an added file that is safe in a `debugfs` command line: `<n>-<basename, sanitized>`. */
function addedName (n: number, abs: string): string {
  return `${n}-${path.basename(abs).replace(/[^A-Za-z0-9._+-]/g, '_')}`
}

export interface Change { edited: number, editedBytes: number, added: number, addedBytes: number, deleted: number, files: number }

/**
 * A day's change of a tree: `edit` of its files edited (see editTree), `remove` of them deleted,
 * and about `addBytes` of new files from the pool written into `added-<day>/`.
 */
export async function changeTree (root: string, day: number, pool: AdditionPool, opts: { edit: number, remove: number, addBytes: number, seed: string }): Promise<Change> {
  const seed = `${opts.seed}:tree:${day}`
  const edits = await editTree(root, opts.edit, `${seed}:edit`)
  const files = await treeFiles(root)
  const doomed = choose(new Prng(`${seed}:delete`), Math.round(files.length * opts.remove), files.length)
  for (const i of doomed) await rm(path.join(root, files[i].rel))
  const dir = path.join(root, `added-${day}`)
  await mkdir(dir, { recursive: true })
  let addedBytes = 0
  const add = pool.take(opts.addBytes)
  for (const [n, f] of add.entries()) {
    await copyFile(f.abs, path.join(dir, addedName(n, f.abs)))
    addedBytes += f.size
  }
  return { edited: edits.edited, editedBytes: edits.bytes, added: add.length, addedBytes, deleted: doomed.length, files: files.length - doomed.length + add.length }
}

// ---------------------------------------------------------------------------------------------
// The image, through debugfs

const SAFE = /^[A-Za-z0-9._+@,:=-]+$/

async function debugfs (image: string, commands: string[], write = false): Promise<string> {
  const dir = path.dirname(image)
  const cmdFile = path.join(dir, `.debugfs-${process.pid}.cmds`)
  await writeFile(cmdFile, commands.join('\n') + '\n')
  try {
    const { stdout } = await run('debugfs', [...(write ? ['-w'] : []), '-f', cmdFile, image])
    return stdout
  } finally {
    await rm(cmdFile, { force: true })
  }
}

/** Splits debugfs -f output into the output of each command (debugfs echoes "debugfs: CMD"). */
function perCommand (stdout: string): Map<string, string[]> {
  const out = new Map<string, string[]>()
  let current: string[] | null = null
  for (const line of stdout.split('\n')) {
    if (line.startsWith('debugfs: ')) { current = []; out.set(line.slice('debugfs: '.length), current) } else if (current !== null) current.push(line)
  }
  return out
}

/**
 * The regular files of an ext4 image (paths from its root) with their sizes, listed level by
 * level with `ls -p`. Entries whose names a debugfs command line cannot carry plainly are left
 * out (and their directories not entered): the change only picks among the others.
 */
export async function imageFiles (image: string): Promise<Array<{ path: string, size: number }>> {
  const files: Array<{ path: string, size: number }> = []
  let dirs = ['/']
  while (dirs.length > 0) {
    const cmds = dirs.map(d => `ls -p ${d}`)
    const out = perCommand(await debugfs(image, cmds))
    const next: string[] = []
    for (const d of dirs) {
      for (const line of out.get(`ls -p ${d}`) ?? []) {
        // /inode/mode/uid/gid/name/size/
        const m = line.match(/^\/(\d+)\/(\d+)\/\d+\/\d+\/(.*)\/(\d*)\/$/)
        if (m === null) continue
        const [, , mode, name, size] = m
        if (name === '.' || name === '..' || name === 'lost+found' || !SAFE.test(name)) continue
        const p = d === '/' ? `/${name}` : `${d}/${name}`
        if (mode.startsWith('04')) next.push(p)
        else if (mode.startsWith('10')) files.push({ path: p, size: Number(size) })
      }
    }
    dirs = next
  }
  return files.sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
}

/**
 * A day's change inside an ext4 image, through debugfs (never mounted): `remove` of its files
 * deleted, about `addBytes` of new files from the pool written into `/added-<day>/`, then
 * `rewrite` of the image's 4 KiB blocks rewritten with random bytes, chosen among the data
 * blocks of its files (edits in place; the file system's metadata stays consistent for the
 * next day's debugfs).
 */
export async function changeImage (image: string, day: number, pool: AdditionPool, opts: { remove: number, addBytes: number, rewrite: number, seed: string, sizeBytes: number }): Promise<Change> {
  const seed = `${opts.seed}:image:${day}`
  const before = await imageFiles(image)
  const doomed = choose(new Prng(`${seed}:delete`), Math.round(before.length * opts.remove), before.length).map(i => before[i].path)
  const add = pool.take(opts.addBytes)
  const dir = `/added-${day}`
  const cmds = [...doomed.map(p => `rm ${p}`), `mkdir ${dir}`]
  for (const [n, f] of add.entries()) {
    if (!SAFE.test(f.abs.replace(/\//g, ''))) continue
    cmds.push(`write ${f.abs} ${dir}/${addedName(n, f.abs)}`)
  }
  await debugfs(image, cmds, true)
  const addedBytes = add.reduce((s, f) => s + f.size, 0)

  // In-place edits: random 4 KiB blocks among the files' data blocks.
  const files = (await imageFiles(image)).filter(f => f.size > 0)
  const out = perCommand(await debugfs(image, files.map(f => `blocks ${f.path}`)))
  const blocks: number[] = []
  for (const f of files) for (const b of (out.get(`blocks ${f.path}`) ?? []).join(' ').trim().split(/\s+/)) if (b !== '') blocks.push(Number(b))
  const n = Math.round(opts.sizeBytes / 4096 * opts.rewrite)
  const prng = new Prng(`${seed}:rewrite`)
  const random = randomStream(`${seed}:rewrite`)
  const chosen = [...new Set(choose(prng, n, blocks.length).map(i => blocks[i]))].sort((a, b) => a - b)
  const fh = await open(image, 'r+')
  try {
    for (const b of chosen) await fh.write(random(4096), 0, 4096, b * 4096)
    await fh.sync()
  } finally {
    await fh.close()
  }
  return { edited: chosen.length, editedBytes: chosen.length * 4096, added: add.length, addedBytes, deleted: doomed.length, files: files.length }
}

// ---------------------------------------------------------------------------------------------
// Fingerprints: what a restore must give back

/**
 * One line per entry of a tree (type, permission bits, size and sha256 of a file, target of a
 * symlink), sorted: equal manifests mean the same names, kinds, modes and bytes.
 */
export async function treeManifest (root: string): Promise<string[]> {
  const { stdout } = await run('find', [root, '-mindepth', '1', '-printf', '%y %m %s %P\\0%l\\0'])
  const parts = stdout.split('\0')
  const lines: string[] = []
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const head = parts[i]
    const [type, mode, size] = head.split(' ', 3)
    const rel = head.slice(type.length + mode.length + size.length + 3)
    if (type === 'f') {
      const h = createHash('sha256')
      await pipeline(createReadStream(path.join(root, rel)), h)
      lines.push(`f ${mode} ${size} ${h.digest('hex')} ${rel}`)
    } else if (type === 'l') {
      lines.push(`l ${parts[i + 1]} ${rel}`)
    } else {
      lines.push(`${type} ${mode} ${rel}`)
    }
  }
  return lines.sort()
}

/** The first few lines in which two manifests differ, for an error message. */
export function manifestDiff (want: string[], got: string[], max = 5): string[] {
  const w = new Set(want)
  const g = new Set(got)
  return [...want.filter(l => !g.has(l)).map(l => `missing: ${l}`), ...got.filter(l => !w.has(l)).map(l => `unexpected: ${l}`)].slice(0, max)
}
