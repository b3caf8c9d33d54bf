/**
 * Real data nobody on the project wrote, for tests of anything that stores or moves bytes:
 * copies of this machine's system directories, ext4 images built from them with `mke2fs -d`, a
 * deterministic rewrite of a share of an image's 4 KiB blocks, and byte-for-byte comparisons of
 * what comes back. Random test bytes are always incompressible and never repeat; real programs,
 * documents and compressed files take every branch of the store's encoder.
 *
 * Everything here repeats on a given machine: subsets are picked in a seeded order, images get a
 * fixed UUID, hash seed and creation time (so the same files land in the same blocks; only inode
 * timestamps differ between builds), and block rewrites come from a seeded generator. Building
 * is the slow part: build each fixture once per test file (in `before`).
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { access, constants, lstat, mkdir, open, readdir, readlink, rm, truncate } from 'node:fs/promises'
import { lutimesNs } from '../../src/fsx/index.ts'
import type { BigIntStats } from 'node:fs'
import { basename, dirname, join } from 'node:path'

/** A system directory to copy: all of it, or a seeded subset of its top-level files. */
export interface CorpusSource {
  path: string
  /**
   * Take the directory's top-level regular files and symlinks in a seeded order until about this
   * many bytes (a file that does not fit is passed over). Without it the whole tree is copied.
   */
  maxBytes?: number
}

export interface Corpus {
  /** the copy: one subdirectory per source, named after its path (`/usr/lib/gcc` → `usr-lib-gcc`) */
  dir: string
  sources: string[]
  files: number
  dirs: number
  symlinks: number
  /** bytes of regular files */
  bytes: number
}

/** What `mke2fs -d` needs, checked once so a missing tool is one clear failure, not a stack. */
export async function checkRealDataTools (): Promise<void> {
  try {
    await run('mke2fs', ['-V'])
  } catch {
    throw new Error('mke2fs is missing: real-data tests build ext4 images with it (Debian package e2fsprogs)')
  }
}

/**
 * Copies `sources` into `dest` with `cp -a` (modes, mtimes, owners, symlinks as they are), then
 * drops what a backup of the copy could not read or would not keep (unreadable entries, sockets)
 * and what `compareTrees` does not compare (FIFOs, device nodes; test/helpers/fidelity.ts covers
 * those).
 */
export async function copyCorpus (dest: string, sources: CorpusSource[], seed = 'drcore real data'): Promise<Corpus> {
  await mkdir(dest, { recursive: true })
  for (const source of sources) {
    if (!await lstat(source.path).then((st) => st.isDirectory(), () => false)) {
      throw new Error(`corpus source ${source.path} is not a directory on this machine`)
    }
    const target = join(dest, source.path.replace(/^\/+/, '').replaceAll('/', '-'))
    if (source.maxBytes === undefined) {
      await copyAll([source.path], target, false)
    } else {
      await mkdir(target)
      await copyAll(await seededSubset(source.path, source.maxBytes, seed), target, true)
      await copyTimes(source.path, target)
    }
  }
  await dropWhatBackupCannotKeep(dest)
  const corpus: Corpus = { dir: dest, sources: sources.map((s) => s.maxBytes === undefined ? s.path : `${s.path} (${s.maxBytes} bytes of it)`), files: 0, dirs: 0, symlinks: 0, bytes: 0 }
  await walk(dest, async (_path, st) => {
    if (st.isFile()) {
      corpus.files++
      corpus.bytes += Number(st.size)
    } else if (st.isDirectory()) {
      corpus.dirs++
    } else if (st.isSymbolicLink()) {
      corpus.symlinks++
    }
  })
  return corpus
}

/** `cp -a`: it exits 1 when some entries cannot be read; what it could copy is the corpus. */
async function copyAll (paths: string[], target: string, into: boolean): Promise<void> {
  for (let i = 0; i < paths.length; i += 200) {
    const batch = paths.slice(i, i + 200)
    const args = into ? ['-a', '-t', target, '--', ...batch] : ['-a', '--', ...batch, target]
    try {
      await run('cp', args)
    } catch (err) {
      if ((err as { code?: unknown }).code !== 1) throw err
    }
  }
}

/** Top-level files and symlinks of `dir` in an order fixed by `seed`, up to about `maxBytes`. */
async function seededSubset (dir: string, maxBytes: number, seed: string): Promise<string[]> {
  const rank = (name: string): string => createHash('sha256').update(`${seed}\0${name}`).digest('hex')
  const names = (await readdir(dir)).sort((a, b) => rank(a) < rank(b) ? -1 : 1)
  const picked: string[] = []
  let bytes = 0
  for (const name of names) {
    const path = join(dir, name)
    const st = await lstat(path)
    if (!st.isFile() && !st.isSymbolicLink()) continue
    if (bytes + st.size > maxBytes) continue
    bytes += st.size
    picked.push(path)
  }
  return picked
}

async function copyTimes (from: string, to: string): Promise<void> {
  const times = await lstat(from, { bigint: true })
  setTimesNs(to, times.atimeNs, times.mtimeNs)
}

/** Sets both times to the nanosecond (node's utimes goes through a double and loses them). */
function setTimesNs (path: string, atimeNs: bigint, mtimeNs: bigint): void {
  const split = (ns: bigint): [number, number] => [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)]
  lutimesNs(path, split(atimeNs), split(mtimeNs))
}

async function dropWhatBackupCannotKeep (root: string): Promise<void> {
  const doomed: string[] = []
  await walk(root, async (path, st) => {
    if (st.isSymbolicLink()) return
    const kept = st.isFile() || st.isDirectory()
    const readable = kept && await access(path, st.isDirectory() ? constants.R_OK | constants.X_OK : constants.R_OK).then(() => true, () => false)
    if (!readable) doomed.push(path)
    return readable
  })
  for (const path of doomed) {
    // the parent keeps its mtime: the copy differs from its source only by what was dropped
    const times = await lstat(dirname(path), { bigint: true })
    await rm(path, { recursive: true, force: true })
    setTimesNs(dirname(path), times.atimeNs, times.mtimeNs)
  }
}

export interface Ext4Image {
  path: string
  /** the image file's size */
  bytes: number
  /** what was copied into it */
  corpus: Corpus
}

const MiB = 1024 * 1024

/**
 * An ext4 file system image holding a copy of `corpus.dir`, built by `mke2fs -q -F -t ext4 -d`
 * (as a user would make one), about a fifth larger than what it holds. A fixed UUID, hash seed
 * and creation time make the same corpus give the same layout.
 */
export async function buildExt4Image (corpus: Corpus, path: string): Promise<Ext4Image> {
  let allocated = 0
  let inodes = 0
  await walk(corpus.dir, async (_path, st) => {
    inodes++
    allocated += Math.ceil(Number(st.size) / 4096) * 4096
  })
  const bytes = Math.ceil((allocated * 1.2 + inodes * 512 + 32 * MiB) / MiB) * MiB
  await rm(path, { force: true })
  await (await open(path, 'wx')).close()
  await truncate(path, bytes)
  const uuid = uuidOf(basename(path))
  await run('mke2fs', ['-q', '-F', '-t', 'ext4', '-U', uuid, '-E', `hash_seed=${uuid}`, '-d', corpus.dir, path], {
    env: { ...process.env, E2FSPROGS_FAKE_TIME: '1700000000' }
  })
  return { path, bytes, corpus }
}

function uuidOf (name: string): string {
  const h = createHash('sha256').update(name).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`
}

export const IMAGE_BLOCK = 4096

export interface BlockRewrite {
  /** 4 KiB blocks rewritten, by kind */
  random: number
  zero: number
  repeated: number
  /** their indexes, ascending */
  blocks: number[]
}

/**
 * Rewrites `share` (0..1) of the 4 KiB blocks of the file at `path` in place, as a running
 * system writes to its disk: each chosen block becomes random bytes, zeros or one repeated byte,
 * in about equal parts. The same `seed` picks the same blocks and bytes on every machine.
 */
export async function rewriteBlocks (path: string, share: number, seed: string): Promise<BlockRewrite> {
  const handle = await open(path, 'r+')
  try {
    const total = Math.floor((await handle.stat()).size / IMAGE_BLOCK)
    const prng = new SeededRandom(seed)
    const blocks = pickDistinct(total, Math.round(total * share), prng).sort((a, b) => a - b)
    const result: BlockRewrite = { random: 0, zero: 0, repeated: 0, blocks }
    const block = new Uint8Array(IMAGE_BLOCK)
    for (const index of blocks) {
      const kind = prng.below(3)
      if (kind === 0) {
        prng.fill(block)
        result.random++
      } else if (kind === 1) {
        block.fill(0)
        result.zero++
      } else {
        block.fill(1 + prng.below(255))
        result.repeated++
      }
      const { bytesWritten } = await handle.write(block, 0, IMAGE_BLOCK, index * IMAGE_BLOCK)
      if (bytesWritten !== IMAGE_BLOCK) throw new Error(`short write rewriting block ${index} of ${path}`)
    }
    return result
  } finally {
    await handle.close()
  }
}

/** `count` distinct integers below `total` (a partial Fisher-Yates shuffle). */
function pickDistinct (total: number, count: number, prng: SeededRandom): number[] {
  const swapped = new Map<number, number>()
  const out: number[] = []
  for (let i = 0; i < count; i++) {
    const j = i + prng.below(total - i)
    const at = swapped.get(j) ?? j
    swapped.set(j, swapped.get(i) ?? i)
    out.push(at)
  }
  return out
}

/** xorshift128+ seeded from a string: fast, and the same sequence everywhere. */
class SeededRandom {
  #s0: bigint
  #s1: bigint
  constructor (seed: string) {
    const h = createHash('sha256').update(seed).digest()
    this.#s0 = h.readBigUInt64LE(0) | 1n
    this.#s1 = h.readBigUInt64LE(8)
  }

  next64 (): bigint {
    let s1 = this.#s0
    const s0 = this.#s1
    this.#s0 = s0
    s1 ^= (s1 << 23n) & 0xffffffffffffffffn
    this.#s1 = s1 ^ s0 ^ (s1 >> 17n) ^ (s0 >> 26n)
    return (this.#s1 + s0) & 0xffffffffffffffffn
  }

  /** uniform in [0, n) for n well below 2^53 */
  below (n: number): number {
    return Number(this.next64() % BigInt(n))
  }

  fill (bytes: Uint8Array): void {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    let i = 0
    for (; i + 8 <= bytes.length; i += 8) view.setBigUint64(i, this.next64())
    for (; i < bytes.length; i++) bytes[i] = this.below(256)
  }
}

/**
 * Where two files first differ, or undefined when they are byte for byte the same:
 * "differs at byte N (4 KiB block M)" or "is N bytes long, expected M".
 */
export async function compareFiles (expected: string, actual: string): Promise<string | undefined> {
  const [a, b] = await Promise.all([open(expected, 'r'), open(actual, 'r')])
  try {
    const [sa, sb] = await Promise.all([a.stat(), b.stat()])
    if (sa.size !== sb.size) return `is ${sb.size} bytes long, expected ${sa.size}`
    const size = Math.max(1, Math.min(4 * MiB, sa.size))
    const [ba, bb] = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)]
    for (let position = 0; position < sa.size; position += size) {
      const [ra, rb] = await Promise.all([a.read(ba, 0, size, position), b.read(bb, 0, size, position)])
      if (ra.bytesRead !== rb.bytesRead) return `reads ${rb.bytesRead} bytes at ${position}, expected ${ra.bytesRead}`
      if (ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead))) continue
      let i = 0
      while (ba[i] === bb[i]) i++
      const at = position + i
      return `differs at byte ${at} (4 KiB block ${Math.floor(at / IMAGE_BLOCK)})`
    }
    return undefined
  } finally {
    await Promise.all([a.close(), b.close()])
  }
}

/**
 * Every way the tree at `actual` differs from the one at `expected` in what drcore keeps today:
 * entry types, file contents byte for byte, permission bits of files and directories, mtimes,
 * symlink targets, and owners when running as root (only root restores them). Mtimes are
 * compared to the nanosecond (restore sets them with utimensat, symlinks and folders too).
 * Empty when the trees are the same; at most `limit` lines.
 */
export async function compareTrees (expected: string, actual: string, limit = 20): Promise<string[]> {
  const owners = process.getuid?.() === 0
  const problems: string[] = []
  let more = 0
  const report = (line: string): void => {
    if (problems.length < limit) problems.push(line)
    else more++
  }
  const compareEntry = async (rel: string): Promise<void> => {
    const name = rel === '' ? '.' : rel
    const [want, got] = await Promise.all([lstat(join(expected, rel), { bigint: true }), lstat(join(actual, rel), { bigint: true }).catch(() => undefined)])
    if (got === undefined) return report(`${name}: missing`)
    if (kindOf(want) !== kindOf(got)) return report(`${name}: is a ${kindOf(got)}, expected a ${kindOf(want)}`)
    if (want.isSymbolicLink()) {
      const [a, b] = await Promise.all([readlink(join(expected, rel)), readlink(join(actual, rel))])
      if (a !== b) report(`${name}: links to ${b}, expected ${a}`)
    } else if ((want.mode & 0o7777n) !== (got.mode & 0o7777n)) {
      report(`${name}: mode ${(got.mode & 0o7777n).toString(8)}, expected ${(want.mode & 0o7777n).toString(8)}`)
    }
    if (want.mtimeNs !== got.mtimeNs) report(`${name}: mtime ${got.mtimeNs} ns, expected ${want.mtimeNs} ns`)
    if (owners && (want.uid !== got.uid || want.gid !== got.gid)) report(`${name}: owner ${got.uid}:${got.gid}, expected ${want.uid}:${want.gid}`)
    if (want.isFile()) {
      const content = await compareFiles(join(expected, rel), join(actual, rel))
      if (content !== undefined) report(`${name}: ${content}`)
    }
    if (want.isDirectory()) {
      const [a, b] = await Promise.all([readdir(join(expected, rel)), readdir(join(actual, rel))])
      const present = new Set(a)
      for (const extra of b.filter((n) => !present.has(n)).sort()) report(`${join(rel, extra)}: not expected`)
      for (const child of a.sort()) await compareEntry(join(rel, child))
    }
  }
  await compareEntry('')
  if (more > 0) problems.push(`... and ${more} more`)
  return problems
}

function kindOf (st: BigIntStats): string {
  if (st.isFile()) return 'file'
  if (st.isDirectory()) return 'directory'
  if (st.isSymbolicLink()) return 'symlink'
  return 'special file'
}

/**
 * Visits every entry below `root` (not `root` itself), parents first. `visit` returning false
 * skips a directory's contents.
 */
async function walk (root: string, visit: (path: string, st: BigIntStats) => Promise<boolean | void>): Promise<void> {
  for (const name of await readdir(root)) {
    const path = join(root, name)
    const st = await lstat(path, { bigint: true })
    const descend = await visit(path, st)
    if (st.isDirectory() && descend !== false) await walk(path, visit)
  }
}

async function run (cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    execFile(cmd, args, { env: options.env, maxBuffer: 16 * MiB }, (err, _stdout, stderr) => {
      if (err === null) return resolve()
      const code = typeof err.code === 'number' ? err.code : undefined
      reject(Object.assign(new Error(`${cmd} ${args.slice(0, 6).join(' ')}: ${stderr.trim().split('\n')[0] ?? err.message}`), { code }))
    })
  })
}
