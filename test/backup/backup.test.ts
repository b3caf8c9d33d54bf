import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes, createHash } from 'node:crypto'
import { mkdir, writeFile, symlink, rm, rename, chmod, utimes, readFile, appendFile, lchown, lstat, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { MissingBlockError, OperationalError, UserError } from '../../src/errors.ts'
import { backup } from '../../src/backup/index.ts'
import type { BackupFs, BackupSyncFs } from '../../src/backup/index.ts'
import { nodeBackupFs, nodeBackupSyncFs } from '../../src/backup/fs.ts'
import { restore } from '../../src/restore/index.ts'
import { lutimesNs } from '../../src/fsx/index.ts'
import { loadManifest } from '../../src/points/manifest.ts'
import { decodeFileNode } from '../../src/points/nodes.ts'
import type { Entry } from '../../src/points/nodes.ts'
import { dirEntries } from '../../src/points/dir-tree.ts'
import { isRaw } from '../../src/points/blocks.ts'
import { walkClosure } from '../../src/points/closure.ts'
import { snapshotTree } from '../helpers/tree.ts'
import { testRepoOn, tempDir, SMALL_CHUNKING, SMALL_SHAPE } from '../helpers/backup-deps.ts'
import type { StoreTestRepo } from '../helpers/backup-deps.ts'
import { STORE_KINDS } from '../helpers/store-harness.ts'
import { samplingThreshold } from '../store/encoding-cases.ts'
import { CID } from 'multiformats/cid'
import { userInfo } from 'node:os'

/** what a backup says of an entry this user may not read */
const DENIED = `permission denied: user ${userInfo().username} may not read it; run the backup as a user who can, or grant read access`

/** node:fs with every opened path recorded: proves which files a backup read. */
function countingFs (): BackupFs & { opened: string[] } {
  const opened: string[] = []
  return { ...nodeBackupFs, opened, open: async (path, flags) => { opened.push(path.toString()); return await nodeBackupFs.open(path, flags) } }
}

/** Sets times to the nanosecond, as `touch -d` does. */
async function utimesNs (path: string, atimeNs: bigint, mtimeNs: bigint): Promise<void> {
  const split = (ns: bigint): [number, number] => [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)]
  lutimesNs(path, split(atimeNs), split(mtimeNs))
}

const byPath = (a: { path: string }, b: { path: string }) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0

async function makeTree (root: string): Promise<void> {
  await mkdir(join(root, 'etc', 'nginx', 'sites'), { recursive: true })
  await mkdir(join(root, 'var', 'empty-dir'), { recursive: true })
  await writeFile(join(root, 'etc', 'hostname'), 'web01\n')
  await writeFile(join(root, 'etc', 'nginx', 'nginx.conf'), 'worker_processes 4;\n'.repeat(50))
  await writeFile(join(root, 'etc', 'nginx', 'sites', 'default'), 'server { listen 80; }\n')
  await writeFile(join(root, 'empty'), '')
  await writeFile(join(root, 'big.bin'), randomBytes(300 * 1024))
  await writeFile(join(root, 'große Datei – ünïcødé ✓.txt'), 'unicode name\n')
  await writeFile(join(root, 'script.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 })
  await chmod(join(root, 'script.sh'), 0o755)
  await writeFile(join(root, 'secret'), 'private\n')
  await chmod(join(root, 'secret'), 0o600)
  await symlink('etc/hostname', join(root, 'link-to-hostname'))
  await symlink('/nonexistent/target', join(root, 'dangling'))
  await utimes(join(root, 'etc', 'hostname'), 1_600_000_000.25, 1_600_000_000.25)
  await chmod(join(root, 'var'), 0o750)
}

// Every test runs on both block stores: the pack store (zstd on a worker, copies made at its own
// pace) is the one a user has; the memory store is what most other unit tests stand on.
for (const kind of STORE_KINDS) {
  describe(`backup and restore of a directory tree (${kind} store)`, { timeout: 120_000 }, () => {
    let repo: StoreTestRepo
    let work: string
    let tree: string
    before(async () => {
      repo = await testRepoOn(kind)
      work = await tempDir()
      tree = join(work, 'tree')
      await makeTree(tree)
    })
    after(async () => {
      await repo.close()
      await rm(work, { recursive: true, force: true })
    })
    const deps = (fs?: BackupFs) => ({ ...repo, chunking: SMALL_CHUNKING, shape: SMALL_SHAPE, ...(fs ? { fs } : {}) })

    test('a base, an incremental after edits, and restores of both that match the trees as they were', async () => {
      const before1 = await snapshotTree(tree)
      const first = await backup(deps(), { machine: 'web01', volumes: [{ name: 'root', path: tree }] })
      assert.equal(first.kind, 'base')
      assert.equal(first.seq, 1)
      assert.equal(first.parent, null)
      assert.deepEqual(first.skipped, [])
      assert.equal(first.files, 10, 'eight files and two symlinks')
      const totalBytes = Object.values(before1).reduce((s, e) => s + (e.type === 'file' ? e.size ?? 0 : 0), 0)
      assert.equal(first.bytes, totalBytes)
      assert.equal(first.newBytes, totalBytes, 'every chunk of a first backup is new')

      // the large file is a tree of file nodes at least two levels deep with these small sizes
      const manifest = (await loadManifest(repo.store, first.point)).manifest
      const entries: Entry[] = []
      for await (const e of dirEntries(async cid => await repo.store.get(cid), manifest.volumes.root.root)) entries.push(e)
      const big = entries.find(e => e.name === 'big.bin')
      assert.ok(big?.cid != null && !isRaw(big.cid))
      const top = decodeFileNode(big.cid, await repo.store.get(big.cid))
      assert.equal(top.size, 300 * 1024)
      assert.ok(top.parts.every(p => !isRaw(p[0])), 'the top node links to file nodes, not chunks')
      // an empty file is the raw block of zero bytes
      const empty = entries.find(e => e.name === 'empty')
      assert.ok(empty?.cid != null && isRaw(empty.cid))
      assert.equal((await repo.store.get(empty.cid)).length, 0)

      // edit, add, delete, rename
      await writeFile(join(tree, 'etc', 'hostname'), 'web01.example\n')
      await appendFile(join(tree, 'big.bin'), randomBytes(5000))
      await writeFile(join(tree, 'var', 'new.log'), 'added\n')
      await rm(join(tree, 'secret'))
      await rename(join(tree, 'etc', 'nginx', 'sites', 'default'), join(tree, 'etc', 'nginx', 'sites', 'renamed'))
      const before2 = await snapshotTree(tree)

      const fs = countingFs()
      const second = await backup(deps(fs), { machine: 'web01', volumes: [{ name: 'root', path: tree }] })
      assert.equal(second.kind, 'incremental')
      assert.equal(second.seq, 2)
      assert.equal(second.parent, first.point)
      const opened = fs.opened.map(p => p.slice(tree.length + 1)).sort()
      assert.deepEqual(opened, ['big.bin', 'etc/hostname', 'etc/nginx/sites/renamed', 'var/new.log'], 'only changed, added and renamed files are read')
      const changedBytes = ['big.bin', 'etc/hostname', 'etc/nginx/sites/renamed', 'var/new.log'].reduce((s, p) => s + (before2[p].size ?? 0), 0)
      assert.equal(second.bytes, changedBytes)
      assert.ok(second.newBytes < 20_000, `appending 5000 bytes to a large file stores little (${second.newBytes} new bytes)`)

      const out1 = join(work, 'out1')
      const out2 = join(work, 'out2')
      const r1 = await restore(repo, { machine: 'web01', point: first.point, dest: out1 })
      assert.deepEqual(r1.restored, [join(out1, 'root')])
      await restore(repo, { machine: 'web01', dest: out2 })
      assert.deepEqual(await snapshotTree(join(out1, 'root')), before1)
      assert.deepEqual(await snapshotTree(join(out2, 'root')), before2)
    })

    test('an unchanged file is not read; one whose bytes changed at the same size and mtime is (its ctime moved)', async () => {
      const path = join(tree, 'etc', 'nginx', 'nginx.conf')
      const untouched = countingFs()
      const same = await backup(deps(untouched), { machine: 'web01', volumes: [{ name: 'root', path: tree }] })
      assert.deepEqual(untouched.opened, [], 'size, mtime, ctime and inode unchanged: nothing is opened')
      assert.equal(same.bytes, 0)
      // rewrite bytes in place, then put the old mtime back: only the ctime tells
      const before = await lstat(path, { bigint: true })
      const text = await readFile(path, 'utf8')
      const edited = text.replace('worker_processes 4;', 'worker_processes 8;')
      assert.equal(edited.length, text.length)
      await writeFile(path, edited)
      await utimesNs(path, before.atimeNs, before.mtimeNs)
      const after = await lstat(path, { bigint: true })
      assert.deepEqual([after.size, after.mtimeNs, after.ino], [before.size, before.mtimeNs, before.ino])
      const fs = countingFs()
      const r = await backup(deps(fs), { machine: 'web01', volumes: [{ name: 'root', path: tree }] })
      assert.deepEqual(fs.opened, [path])
      const out = join(work, 'out-same-mtime')
      await restore(repo, { machine: 'web01', point: r.point, dest: out, path: '/etc/nginx/nginx.conf' })
      assert.equal(await readFile(join(out, 'nginx.conf'), 'utf8'), edited)
    })

    test('an unchanged file is read again with rehash, and a mode change is recorded (read again: it moved the ctime, nothing new stored)', async () => {
      await chmod(join(tree, 'script.sh'), 0o700)
      const fs = countingFs()
      const r = await backup(deps(fs), { machine: 'web01', volumes: [{ name: 'root', path: tree }] })
      assert.deepEqual(fs.opened, [join(tree, 'script.sh')])
      assert.equal(r.newBytes, 0)
      const out = join(work, 'out-mode')
      await restore(repo, { machine: 'web01', dest: out, path: '/script.sh' })
      assert.equal((await snapshotTree(out))['script.sh'].mode, 0o700)

      const again = countingFs()
      const rehashed = await backup(deps(again), { machine: 'web01', volumes: [{ name: 'root', path: tree }], rehash: true })
      assert.equal(again.opened.length, rehashed.files - 2, 'every regular file is read')
      assert.equal(rehashed.newBytes, 0, 'rehashing unchanged files stores nothing new')
    })

    test('file-level restore of a file and of a subtree lands under dest by its name', async () => {
      const out = join(work, 'out-files')
      const a = await restore(repo, { machine: 'web01', dest: out, path: 'etc/nginx' })
      assert.deepEqual(a.restored, [join(out, 'nginx')])
      assert.deepEqual(await snapshotTree(join(out, 'nginx')), Object.fromEntries(
        Object.entries(await snapshotTree(join(tree, 'etc', 'nginx')))))
      await restore(repo, { machine: 'web01', dest: out, path: '/big.bin' })
      assert.deepEqual(await readFile(join(out, 'big.bin')), await readFile(join(tree, 'big.bin')))
      await assert.rejects(restore(repo, { machine: 'web01', dest: out, path: '/big.bin' }), /restore target already exists/)
      await assert.rejects(restore(repo, { machine: 'web01', dest: out, path: '/no/such' }), /no such file or directory in point .*: root\/no/)
    })

    test('two backups of one machine at once take consecutive points, the second on the first', async () => {
      const [x, y] = await Promise.all([
        backup(deps(), { machine: 'twice', volumes: [{ name: 'root', path: join(tree, 'etc') }] }),
        backup(deps(), { machine: 'twice', volumes: [{ name: 'root', path: join(tree, 'etc') }] })
      ])
      assert.deepEqual([x.seq, y.seq], [1, 2])
      assert.equal(y.parent, x.point)
    })

    test('base: true starts a new chain; seq keeps counting', async () => {
      const r = await backup(deps(), { machine: 'web01', volumes: [{ name: 'root', path: tree }], base: true })
      assert.equal(r.kind, 'base')
      assert.equal(r.parent, null)
      const chain = await repo.points.points({ tenant: '', origin: repo.peerId.toString(), machine: 'web01' })
      assert.deepEqual(chain.map(p => p.seq), [1, 2, 3, 4, 5, 6, 7])
      assert.ok(chain.every(p => p.complete))
    })
  })

  describe(`volume images and failure handling (${kind} store)`, { timeout: 120_000 }, () => {
    let repo: StoreTestRepo
    let work: string
    before(async () => {
      repo = await testRepoOn(kind)
      work = await tempDir()
    })
    after(async () => {
      await repo.close()
      await rm(work, { recursive: true, force: true })
    })

    test('a single-file volume (an image) comes back bit-identical as dest/<volume>, and an unchanged image is not read again', async () => {
      const image = join(work, 'disk.img')
      await writeFile(image, Buffer.concat([randomBytes(2 * 1024 * 1024), Buffer.alloc(1024 * 1024), randomBytes(12345)]))
      const deps = { ...repo, chunking: { minSize: 4096, avgSize: 16384, maxSize: 65536 }, shape: SMALL_SHAPE }
      const progress: number[] = []
      const r = await backup(deps, { machine: 'vm1', volumes: [{ name: 'sda', path: image }], onProgress: p => progress.push(p.totalBytes ?? -1) })
      assert.equal(r.files, 1)
      assert.ok(progress.length >= 1 && progress.every(t => t === 3 * 1024 * 1024 + 12345))
      assert.ok(r.newBytes < r.bytes, 'the zeroed megabyte is stored as one repeated chunk')
      const out = join(work, 'restored')
      await restore(repo, { machine: 'vm1', dest: out })
      const sha = async (p: string) => createHash('sha256').update(await readFile(p)).digest('hex')
      assert.equal(await sha(join(out, 'sda')), await sha(image))

      const fs = countingFs()
      const again = await backup({ ...deps, fs }, { machine: 'vm1', volumes: [{ name: 'sda', path: image }] })
      assert.deepEqual(fs.opened, [])
      assert.equal(again.bytes, 0)
    })

    test('an image read in several buffers, in chunks the store hands to zstd and keeps as they are, verifies and comes back bit-identical', async () => {
    // random chunks below the entropy sample's minimum all go to zstd, which cannot shrink them:
    // the branch where the store keeps the caller's bytes after the worker answers
      const image = join(work, 'noise.img')
      await writeFile(image, randomBytes(12 * 1024 * 1024))
      const maxSize = samplingThreshold() - 1
      const deps = { ...repo, chunking: { minSize: maxSize >> 2, avgSize: maxSize >> 1, maxSize }, shape: SMALL_SHAPE }
      await backup(deps, { machine: 'noise', volumes: [{ name: 'sdb', path: image }] })
      const failed = []
      for await (const r of repo.store.verifyAll()) if (!r.ok) failed.push(r.error)
      assert.deepEqual(failed, [], 'every stored block rehashes to its CID')
      const out = join(work, 'noise-out')
      await restore(repo, { machine: 'noise', dest: out })
      assert.ok((await readFile(join(out, 'sdb'))).equals(await readFile(image)))
    })

    test('ownership comes back when restoring as root', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, async () => {
      const tree = join(work, 'owned')
      await mkdir(join(tree, 'sub'), { recursive: true })
      await writeFile(join(tree, 'sub', 'setuid'), 'x')
      await symlink('sub', join(tree, 'link'))
      await lchown(join(tree, 'sub'), 65534, 65534)
      await lchown(join(tree, 'sub', 'setuid'), 1234, 4321)
      await chmod(join(tree, 'sub', 'setuid'), 0o4755)
      await lchown(join(tree, 'link'), 42, 43)
      await backup(repo, { machine: 'owned', volumes: [{ name: 'o', path: tree }] })
      const out = join(work, 'owned-out')
      await restore(repo, { machine: 'owned', dest: out })
      const owner = async (p: string) => { const s = await lstat(join(out, 'o', p)); return [s.uid, s.gid, s.mode & 0o7777] }
      assert.deepEqual(await owner('sub'), [65534, 65534, 0o755])
      assert.deepEqual(await owner('sub/setuid'), [1234, 4321, 0o4755])
      assert.deepEqual((await owner('link')).slice(0, 2), [42, 43])
    })

    test('a missing path is a UserError before anything is written', async () => {
      const blocks = (await repo.store.stats()).blocks
      await assert.rejects(backup(repo, { machine: 'm', volumes: [{ name: 'a', path: work }, { name: 'b', path: join(work, 'nope') }] }),
        (err: any) => err instanceof UserError && err.message === `no such file or directory: ${join(work, 'nope')}`)
      assert.equal((await repo.store.stats()).blocks, blocks)
      await assert.rejects(backup(repo, { machine: 'bad/name', volumes: [{ name: 'a', path: work }] }), /invalid machine name/)
    })

    test('unreadable files and directories are skipped and listed, the rest is backed up; an unreadable volume root is an error', async () => {
      const tree = join(work, 'perm')
      await mkdir(join(tree, 'locked'), { recursive: true })
      await writeFile(join(tree, 'ok.txt'), 'fine')
      await writeFile(join(tree, 'unreadable.txt'), 'secret')
      await writeFile(join(tree, 'locked', 'inside.txt'), 'x')
      // an injected file system denies access (the tests may run as root, who reads everything)
      const denied = new Set([join(tree, 'unreadable.txt'), join(tree, 'locked')])
      const eacces = (path: string) => Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: 'EACCES', syscall: 'open', path })
      const fs: BackupFs = {
        ...nodeBackupFs,
        open: async (path, flags) => { if (denied.has(path.toString())) throw eacces(path.toString()); return await nodeBackupFs.open(path, flags) },
        readdir: async (path) => { if (denied.has(path.toString())) throw eacces(path.toString()); return await nodeBackupFs.readdir(path) }
      }
      await assert.rejects(backup({ ...repo, fs }, { machine: 'files01', volumes: [{ name: 'locked', path: join(tree, 'locked') }] }),
        (err: any) => err instanceof OperationalError && err.message === `cannot read volume ${join(tree, 'locked')}: permission denied: user ${userInfo().username} may not read it; run the backup as a user who can, or grant read access`)
      const r = await backup({ ...repo, fs }, { machine: 'files01', volumes: [{ name: 'data', path: tree }] })
      assert.deepEqual(r.skipped.sort(byPath), [{ path: join(tree, 'locked'), reason: DENIED, code: 'EACCES' }, { path: join(tree, 'unreadable.txt'), reason: DENIED, code: 'EACCES' }])
      assert.equal(r.partial, true)
      assert.equal(r.files, 1)
      const out = join(work, 'perm-out')
      await restore(repo, { machine: 'files01', dest: out })
      assert.deepEqual(Object.keys(await snapshotTree(join(out, 'data'))), ['ok.txt'])
    })

    test('a file that keeps changing while read is stored as read, listed, and its chunks match its size', async () => {
      const tree = join(work, 'busy')
      await mkdir(tree)
      await writeFile(join(tree, 'growing.log'), randomBytes(100_000))
      let stats = 0
      // every stat through the handle reports a later mtime: the file "changes" during each read
      const fs: BackupFs = {
        ...nodeBackupFs,
        open: async (path, flags) => {
          const handle = await nodeBackupFs.open(path, flags)
          return {
            read: handle.read.bind(handle),
            close: handle.close.bind(handle),
            stat: async (o) => { const s = await handle.stat(o); s.mtimeNs += BigInt(++stats); return s }
          }
        }
      }
      const r = await backup({ ...repo, fs, chunking: SMALL_CHUNKING, shape: SMALL_SHAPE }, { machine: 'busy', volumes: [{ name: 'd', path: tree }] })
      assert.deepEqual(r.changed, [join(tree, 'growing.log')])
      assert.equal(stats, 4, 'read twice: a stat before and after each attempt')
      assert.equal(r.bytes, 200_000)
      const out = join(work, 'busy-out')
      await restore(repo, { machine: 'busy', dest: out, path: 'growing.log' })
      assert.deepEqual(await readFile(join(out, 'growing.log')), await readFile(join(tree, 'growing.log')))
    })

    test('the synchronous small-file path skips and lists unreadable entries and applies the changing-file rule', async () => {
      const tree = join(work, 'sync-path')
      await mkdir(join(tree, 'locked'), { recursive: true })
      await writeFile(join(tree, 'ok.txt'), 'fine')
      await writeFile(join(tree, 'unreadable.txt'), 'secret')
      await writeFile(join(tree, 'locked', 'inside.txt'), 'x')
      await writeFile(join(tree, 'growing.log'), randomBytes(100_000))
      const denied = new Set([join(tree, 'unreadable.txt'), join(tree, 'locked')])
      const eacces = (path: string) => Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: 'EACCES', syscall: 'open', path })
      const fds = new Map<number, string>()
      let stats = 0
      const syncFs: BackupSyncFs = {
        ...nodeBackupSyncFs,
        open: (path) => { if (denied.has(path.toString())) throw eacces(path.toString()); const fd = nodeBackupSyncFs.open(path); fds.set(fd, path.toString()); return fd },
        readdir: (path) => { if (denied.has(path.toString())) throw eacces(path.toString()); return nodeBackupSyncFs.readdir(path) },
        fstat: (fd) => {
          const s = nodeBackupSyncFs.fstat(fd)
          if (fds.get(fd)?.endsWith('growing.log') === true) s.mtimeNs += BigInt(++stats)
          return s
        },
        close: (fd) => { fds.delete(fd); nodeBackupSyncFs.close(fd) }
      }
      const r = await backup({ ...repo, syncFs, chunking: SMALL_CHUNKING, shape: SMALL_SHAPE }, { machine: 'sync01', volumes: [{ name: 'd', path: tree }] })
      assert.deepEqual(r.skipped.sort(byPath), [{ path: join(tree, 'locked'), reason: DENIED, code: 'EACCES' }, { path: join(tree, 'unreadable.txt'), reason: DENIED, code: 'EACCES' }])
      assert.equal(r.partial, true)
      assert.deepEqual(r.changed, [join(tree, 'growing.log')])
      assert.equal(stats, 4, 'read twice: a stat before and after each attempt')
      assert.equal(fds.size, 0, 'every descriptor closed')
      assert.equal(r.files, 2)
      const out = join(work, 'sync-path-out')
      await restore(repo, { machine: 'sync01', dest: out })
      const restored = await snapshotTree(join(out, 'd'))
      assert.deepEqual(Object.keys(restored).sort(), ['growing.log', 'ok.txt'])
      assert.deepEqual(await readFile(join(out, 'd', 'growing.log')), await readFile(join(tree, 'growing.log')))
    })

    test('a restore that meets a corrupt or missing block fails naming the CID and leaves no file behind', async () => {
      const tree = join(work, 'fragile')
      await mkdir(tree)
      await writeFile(join(tree, 'data.bin'), randomBytes(50_000))
      const r = await backup({ ...repo, chunking: SMALL_CHUNKING, shape: SMALL_SHAPE }, { machine: 'fragile', volumes: [{ name: 'd', path: tree }] })
      const signed = await loadManifest(repo.store, r.point)
      const chunks: string[] = []
      for await (const cid of walkClosure(repo.store, signed)) if (isRaw(cid)) chunks.push(cid.toString())
      const victim = chunks[Math.floor(chunks.length / 2)]
      await repo.corrupt(CID.parse(victim))
      const out = join(work, 'fragile-out')
      await assert.rejects(restore(repo, { machine: 'fragile', dest: out, path: 'data.bin' }), new RegExp(`block ${victim} is corrupt`))
      // not even the destination directory the failed restore created is left
      await assert.rejects(stat(out), { code: 'ENOENT' })
      await mkdir(out)
      // the read that found it damaged quarantined it; now a block that is simply gone
      // (the file's first chunk: a restore writes in order and meets it before the damaged one)
      const gone = chunks[0]
      assert.notEqual(gone, victim)
      await repo.remove(CID.parse(gone))
      await assert.rejects(restore(repo, { machine: 'fragile', dest: out, path: 'data.bin' }), (err: any) => err instanceof MissingBlockError && err.cid === gone)
      assert.deepEqual(await snapshotTree(out), {}, 'a destination that existed before stays, empty')
    })
  })
}
