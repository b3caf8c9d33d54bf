import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { link, lstat, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { userInfo } from 'node:os'
import { backup } from '../../src/backup/index.ts'
import type { BackupFs } from '../../src/backup/index.ts'
import { nodeBackupFs } from '../../src/backup/fs.ts'
import { restore } from '../../src/restore/index.ts'
import { writeSparse } from '../../src/restore/restorer.ts'
import { loadManifest } from '../../src/points/manifest.ts'
import { dirEntries } from '../../src/points/dir-tree.ts'
import type { Entry } from '../../src/points/nodes.ts'
import { setXattr } from '../../src/fsx/index.ts'
import { testRepo, tempDir } from '../helpers/backup-deps.ts'
import type { TestRepo } from '../helpers/backup-deps.ts'

describe('backup and restore keep links and attributes, and say what they could not', { timeout: 60_000 }, () => {
  let repo: TestRepo
  let work: string
  before(async () => {
    repo = await testRepo()
    work = await tempDir('drcore-fidelity-unit-')
  })
  after(async () => {
    await repo.close()
    await rm(work, { recursive: true, force: true })
  })

  const entriesOf = async (point: string, dir?: string): Promise<Entry[]> => {
    const manifest = (await loadManifest(repo.store, point)).manifest
    let root = Object.values(manifest.volumes)[0].root
    const out: Entry[] = []
    if (dir !== undefined) {
      for await (const e of dirEntries(async c => await repo.store.get(c), root)) if (e.name === dir) root = e.cid!
    }
    for await (const e of dirEntries(async c => await repo.store.get(c), root)) out.push(e)
    return out
  }

  test('hard links get one id per inode in walk order, are read once, and come back as links; one link restored alone is a file', async () => {
    const tree = join(work, 'links')
    await mkdir(join(tree, 'x'), { recursive: true })
    await writeFile(join(tree, 'a'), randomBytes(20_000))
    await link(join(tree, 'a'), join(tree, 'x', 'b'))
    await writeFile(join(tree, 'c'), 'single\n')
    await writeFile(join(tree, 'd'), 'other inode\n')
    await link(join(tree, 'd'), join(tree, 'x', 'e'))
    const opened: string[] = []
    const fs: BackupFs = { ...nodeBackupFs, open: async (path, flags) => { opened.push(path.toString()); return await nodeBackupFs.open(path, flags) } }
    const r = await backup({ ...repo, fs }, { machine: 'links', volumes: [{ name: 'v', path: tree }] })
    const top = await entriesOf(r.point)
    assert.deepEqual(top.map(e => [e.name, e.hardlink]), [['a', 1], ['c', undefined], ['d', 2], ['x', undefined]])
    assert.deepEqual((await entriesOf(r.point, 'x')).map(e => [e.name, e.hardlink]), [['b', 1], ['e', 2]])
    assert.equal(opened.filter(p => p.endsWith('/a') || p.endsWith('/b')).length, 1, 'the second link of an inode read in this backup is not read again')

    const out = join(work, 'links-out')
    await restore(repo, { machine: 'links', dest: out })
    const [a, b, d, e] = await Promise.all(['a', 'x/b', 'd', 'x/e'].map(async p => await lstat(join(out, 'v', p))))
    assert.deepEqual([a.ino === b.ino, a.nlink, d.ino === e.ino, d.nlink], [true, 2, true, 2])
    const folder = join(work, 'links-folder')
    await restore(repo, { machine: 'links', dest: folder, path: 'x' })
    assert.equal((await lstat(join(folder, 'x', 'b'))).nlink, 1, 'a link whose first name is outside the folder restored is a file')
    assert.deepEqual(await readFile(join(folder, 'x', 'b')), await readFile(join(tree, 'a')))
  })

  test('attributes that cannot be read are listed with the reason; the entry is stored without them and the point is partial', async () => {
    const tree = join(work, 'attrs')
    await mkdir(tree)
    await writeFile(join(tree, 'fine'), 'ok\n')
    await writeFile(join(tree, 'guarded'), 'content kept\n')
    setXattr(join(tree, 'fine'), 'user.k', Buffer.from('v'))
    const fs: BackupFs = {
      ...nodeBackupFs,
      xattrs: (path) => {
        if (path.toString().endsWith('guarded')) throw Object.assign(new Error('EACCES'), { code: 'EACCES', syscall: 'llistxattr' })
        return nodeBackupFs.xattrs(path)
      }
    }
    const r = await backup({ ...repo, fs }, { machine: 'attrs', volumes: [{ name: 'v', path: tree }] })
    assert.deepEqual(r.skipped, [{ path: join(tree, 'guarded'), reason: `extended attributes unreadable: permission denied: user ${userInfo().username} may not read it; run the backup as a user who can, or grant read access`, code: 'EACCES' }])
    assert.equal(r.partial, true)
    const manifest = (await loadManifest(repo.store, r.point)).manifest
    assert.equal(manifest.skipped, 1, 'the count is in the signed manifest')
    assert.equal((await repo.points.get(r.point))?.skipped, 1)
    const entries = await entriesOf(r.point)
    assert.deepEqual(entries.map(e => [e.name, e.xattrs?.map(([n, v]) => [n, Buffer.from(v).toString()])]), [['fine', [['user.k', 'v']]], ['guarded', undefined]])
    const out = join(work, 'attrs-out')
    await restore(repo, { machine: 'attrs', dest: out })
    assert.equal(await readFile(join(out, 'v', 'guarded'), 'utf8'), 'content kept\n')
  })

  test('writeSparse leaves out every all-zero piece of a 4 KiB block, at chunk edges too, and joins the rest into few writes', async () => {
    const writes: Array<[number, number]> = []
    const handle = { write: async (data: Buffer, offset: number, length: number, position: number) => { writes.push([position, length]); return { bytesWritten: length, buffer: data } } }
    const chunk = Buffer.alloc(20_000)
    chunk.fill(7, 5000, 9000) // data in blocks 1 and 2 of the file at offset 1000
    await writeSparse(handle as any, chunk, 1000)
    // file offsets 6000..10000 hold data; the pieces covering them span blocks [4096, 12288)
    assert.deepEqual(writes, [[4096, 12288 - 4096]])
    writes.length = 0
    await writeSparse(handle as any, Buffer.alloc(100_000), 12345)
    assert.deepEqual(writes, [], 'a chunk of zeros writes nothing, whatever its alignment')
    await writeSparse(handle as any, Buffer.from('x'), 3)
    assert.deepEqual(writes, [[3, 1]])
  })
})
