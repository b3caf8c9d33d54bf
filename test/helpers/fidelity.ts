/**
 * A tree holding every kind of thing a restore must bring back exactly (issue 9), and
 * comparisons made with tools that see all of it: rsync in dry-run mode with hard links, ACLs,
 * extended attributes, devices and sparseness (`-aHAXS`), getfattr, and an lstat walk that
 * compares nanosecond mtimes, link counts, device numbers and allocated blocks.
 *
 * The tree is built with the system's own tools (mkfifo, mknod, setfattr, setfacl, touch), not
 * with drcore's code, so a bug shared by backup and restore cannot hide itself.
 */
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { link, lstat, mkdir, open, readdir, readFile, readlink, symlink, writeFile, lchown, chmod } from 'node:fs/promises'
import type { BigIntStats } from 'node:fs'
import { join } from 'node:path'

export const IS_ROOT = process.getuid?.() === 0
const MiB = 1024 * 1024

/** Joins path parts given as text or raw bytes (names that are not UTF-8). */
export function p (...parts: Array<string | Buffer>): Buffer {
  const out: Buffer[] = []
  for (const [i, part] of parts.entries()) {
    if (i > 0) out.push(Buffer.from('/'))
    out.push(typeof part === 'string' ? Buffer.from(part) : part)
  }
  return Buffer.concat(out)
}

/** `caf` + one byte: names that are not valid UTF-8 */
export const CAFE_E9 = Buffer.from([0x63, 0x61, 0x66, 0xe9])
export const CAFE_FF = Buffer.from([0x63, 0x61, 0x66, 0xff])

export interface FidelityTree {
  dir: string
  /** what the tree holds, for the test's names */
  kinds: string[]
}

/**
 * Builds the tree at `dir` (which must not exist). Sizes are small: the point is every kind,
 * not volume. `chunk` is the chunker's maximum size: one file holds exactly that many bytes.
 */
export async function buildFidelityTree (dir: string, chunk = 256 * 1024): Promise<FidelityTree> {
  const kinds: string[] = []
  await mkdir(dir)
  // names that are not UTF-8, one with a newline, a folder whose name is not UTF-8
  await writeFile(p(dir, CAFE_E9), 'one\n')
  await writeFile(p(dir, CAFE_FF), 'two\n')
  await writeFile(p(dir, 'new\nline'), 'a name with a newline\n')
  await mkdir(p(dir, Buffer.from([0x64, 0x69, 0x72, 0xfe])))
  await writeFile(p(dir, Buffer.from([0x64, 0x69, 0x72, 0xfe]), 'inside'), 'in a folder whose name is not UTF-8\n')
  kinds.push('names that are not UTF-8', 'a name with a newline')
  // hard links across folders
  await mkdir(join(dir, 'a'))
  await mkdir(join(dir, 'b', 'c'), { recursive: true })
  await writeFile(join(dir, 'a', 'linked'), randomBytes(40_000))
  await link(join(dir, 'a', 'linked'), join(dir, 'b', 'second-link'))
  await link(join(dir, 'a', 'linked'), join(dir, 'b', 'c', 'third-link'))
  kinds.push('hard links across folders')
  // special files
  await run('mkfifo', ['-m', '0640', join(dir, 'pipe')])
  kinds.push('a FIFO')
  if (IS_ROOT) {
    await run('mknod', ['-m', '0660', join(dir, 'null-device'), 'c', '1', '3'])
    await run('mknod', ['-m', '0600', join(dir, 'loop-device'), 'b', '7', '200'])
    kinds.push('device nodes')
  }
  // symlinks: relative, dangling, with a target that is not UTF-8
  await symlink('a/linked', join(dir, 'to-linked'))
  await symlink('/nonexistent/target', join(dir, 'dangling'))
  await symlink(Buffer.concat([Buffer.from('./'), CAFE_FF]), p(dir, 'to-cafe'))
  kinds.push('symlinks')
  // extended attributes (binary values too) and POSIX ACLs, access and default
  await writeFile(join(dir, 'attributes'), 'has xattrs\n')
  await run('setfattr', ['-n', 'user.comment', '-v', 'kept exactly', join(dir, 'attributes')])
  await run('setfattr', ['-n', 'user.binary', '-v', '0x00ff0102', join(dir, 'attributes')])
  await run('setfattr', ['-n', 'user.on-a-folder', '-v', 'yes', join(dir, 'a')])
  await writeFile(join(dir, 'acl'), 'has an ACL\n')
  await run('setfacl', ['-m', 'u:65534:r--,g:65534:rw-', join(dir, 'acl')])
  await mkdir(join(dir, 'acl-folder'))
  await run('setfacl', ['-m', 'u:65534:rwx', '-d', '-m', 'g:65534:r-x', join(dir, 'acl-folder')])
  kinds.push('extended attributes', 'POSIX ACLs')
  if (IS_ROOT) {
    // a file capability (cap_net_raw, effective and permitted): a security.* attribute that chown and writes drop
    await writeFile(join(dir, 'capable'), '#!/bin/sh\n', { mode: 0o755 })
    await run('setfattr', ['-n', 'security.capability', '-v', '0x0100000200200000000000000000000000000000', join(dir, 'capable')])
    kinds.push('a file capability')
  }
  // a sparse file: holes at the start, in the middle and at the end
  const sparse = await open(join(dir, 'sparse'), 'wx')
  await sparse.write(randomBytes(64 * 1024), 0, 64 * 1024, 3 * MiB)
  await sparse.write(randomBytes(64 * 1024), 0, 64 * 1024, 7 * MiB)
  await sparse.truncate(12 * MiB)
  await sparse.close()
  kinds.push('a sparse file (holes at start, middle and end)')
  await writeFile(join(dir, 'empty'), '')
  await writeFile(join(dir, 'one-chunk'), randomBytes(chunk))
  kinds.push('a 0-byte file', 'a file of exactly one chunk')
  // deep nesting
  let deep = join(dir, 'deep')
  for (let i = 0; i < 40; i++) deep = join(deep, `level-${i}`)
  await mkdir(deep, { recursive: true })
  await writeFile(join(deep, 'bottom'), 'forty levels down\n')
  kinds.push('40 levels of folders')
  // modes and owners
  await writeFile(join(dir, 'setuid'), '#!/bin/sh\n')
  if (IS_ROOT) await lchown(join(dir, 'setuid'), 1234, 4321)
  await chmod(join(dir, 'setuid'), 0o4755)
  await writeFile(join(dir, 'private'), 'owner only\n', { mode: 0o600 })
  await chmod(join(dir, 'private'), 0o600)
  if (IS_ROOT) await lchown(join(dir, 'to-linked'), 42, 43)
  // nanosecond times on files, folders and symlinks (last: the steps above move folder times)
  await run('touch', ['-h', '-d', '2020-01-02 03:04:05.123456789', join(dir, 'to-linked')])
  await run('touch', ['-d', '2019-05-06 07:08:09.987654321', join(dir, 'empty')])
  await run('touch', ['-d', '2018-01-01 00:00:00.000000001', join(dir, 'b', 'c')])
  await run('touch', ['-d', '2017-07-07 07:07:07.700000007', join(dir, 'deep')])
  kinds.push('nanosecond mtimes on files, folders and symlinks', 'set-user-id bits, owners')
  return { dir, kinds }
}

/** `rsync -aHAXS --dry-run --itemize-changes --numeric-ids` from `expected` to `actual`: every line is a difference. */
export async function rsyncDifferences (expected: string, actual: string): Promise<string[]> {
  const out = await run('rsync', ['-aHAXS', '--dry-run', '--itemize-changes', '--numeric-ids', '--delete', `${expected}/`, `${actual}/`])
  return out.split('\n').filter(line => line.trim() !== '')
}

/** Every extended attribute of every entry below `dir` (ACLs included), as getfattr prints them. */
export async function xattrDump (dir: string): Promise<string> {
  return await run('getfattr', ['-R', '-h', '-d', '-m', '-', '-e', 'hex', '.'], { cwd: dir })
}

/**
 * Differences the rsync dry run does not look at: nanosecond mtimes (of symlinks and folders
 * too), link counts, device numbers, symlink targets as bytes, contents, and allocated blocks
 * (a restored file may take at most `slackBlocks` 512-byte blocks more than its source; it may
 * take fewer: zero runs come back as holes). Empty when the trees are alike.
 */
export async function lstatDifferences (expected: string, actual: string, slackBlocks = 16): Promise<string[]> {
  const problems: string[] = []
  const walk = async (rel: Buffer): Promise<void> => {
    const a = p(expected, rel)
    const b = p(actual, rel)
    const name = rel.length === 0 ? '.' : JSON.stringify(rel.toString('latin1'))
    const [want, got] = await Promise.all([lstat(a, { bigint: true }), lstat(b, { bigint: true }).catch(() => undefined)])
    if (got === undefined) {
      problems.push(`${name}: missing`)
      return
    }
    const fields: Array<keyof BigIntStats> = ['mode', 'uid', 'gid', 'nlink', 'rdev', 'mtimeNs']
    if (!want.isDirectory()) fields.push('size')
    for (const field of fields) {
      if (want[field] !== got[field]) problems.push(`${name}: ${field} ${String(got[field])}, expected ${String(want[field])}`)
    }
    if (want.isFile()) {
      if (got.blocks > want.blocks + BigInt(slackBlocks)) problems.push(`${name}: takes ${got.blocks} blocks, its source ${want.blocks}`)
      const [x, y] = await Promise.all([sha256(a), sha256(b)])
      if (x !== y) problems.push(`${name}: content differs`)
    }
    if (want.isSymbolicLink()) {
      const [x, y] = await Promise.all([readlink(a, { encoding: 'buffer' }), readlink(b, { encoding: 'buffer' })])
      if (!x.equals(y)) problems.push(`${name}: links to ${y.toString('latin1')}, expected ${x.toString('latin1')}`)
    }
    if (want.isDirectory()) {
      const [x, y] = await Promise.all([readdir(a, { encoding: 'buffer' }), readdir(b, { encoding: 'buffer' })])
      const seen = new Set(x.map(n => n.toString('latin1')))
      for (const extra of y.filter(n => !seen.has(n.toString('latin1')))) problems.push(`${name}/${extra.toString('latin1')}: not expected`)
      for (const child of x.sort(Buffer.compare)) await walk(rel.length === 0 ? child : p(rel, child))
    }
  }
  await walk(Buffer.alloc(0))
  return problems
}

/** Allocated bytes of a file (st_blocks * 512). */
export async function allocated (path: string | Buffer): Promise<number> {
  return Number((await lstat(path, { bigint: true })).blocks) * 512
}

async function sha256 (path: Buffer): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex')
}

export async function run (cmd: string, args: string[], options: { cwd?: string } = {}): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: options.cwd, maxBuffer: 64 * MiB }, (err, stdout, stderr) => {
      if (err === null) return resolve(stdout)
      reject(new Error(`${cmd} ${args.slice(0, 8).join(' ')} failed: ${stderr.trim() || err.message}`))
    })
  })
}
