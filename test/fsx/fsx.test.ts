import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { lstat, mkdir, rm, symlink, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { getXattr, listXattrs, lutimesNs, makedev, mknod, setXattr, splitDev } from '../../src/fsx/index.ts'
import { tempDir } from '../helpers/backup-deps.ts'

const root = process.getuid?.() === 0

describe('fsx: the system calls Node lacks', { timeout: 30_000 }, () => {
  let work: string
  before(async () => { work = await tempDir('drcore-fsx-') })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  test('lutimesNs sets times to the nanosecond on a file whose name is not UTF-8, and on a symlink without following it', async () => {
    const path = Buffer.concat([Buffer.from(join(work, 'caf')), Buffer.from([0xe9])])
    await writeFile(path, 'x')
    lutimesNs(path, [1_600_000_000, 123_456_789], [1_600_000_001, 987_654_321])
    const st = await lstat(path, { bigint: true })
    assert.equal(st.mtimeNs, 1_600_000_001_987_654_321n)
    assert.equal(st.atimeNs, 1_600_000_000_123_456_789n)
    // Node's utimes goes through a double: the same time comes back off by up to a microsecond
    // eslint-disable-next-line @typescript-eslint/no-loss-of-precision -- the point: a double cannot hold these nanoseconds
    await utimes(path, 1_600_000_001.987654321, 1_600_000_001.987654321)
    assert.notEqual((await lstat(path, { bigint: true })).mtimeNs, 1_600_000_001_987_654_321n)

    const target = join(work, 'target')
    await writeFile(target, 't')
    const before = (await lstat(target, { bigint: true })).mtimeNs
    await symlink('target', join(work, 'link'))
    lutimesNs(join(work, 'link'), [5, 6], [7, 8])
    assert.equal((await lstat(join(work, 'link'), { bigint: true })).mtimeNs, 7_000_000_008n)
    assert.equal((await lstat(target, { bigint: true })).mtimeNs, before, 'the target is untouched')
  })

  test('extended attributes: set, listed and read back as bytes (binary values, empty values, a name that is not UTF-8)', async () => {
    const path = join(work, 'attrs')
    await writeFile(path, '')
    const odd = Buffer.from([0x75, 0x73, 0x65, 0x72, 0x2e, 0xff]) // "user." then a byte that is not UTF-8
    setXattr(path, 'user.binary', Buffer.from([0, 1, 2, 0, 255]))
    setXattr(path, 'user.empty', Buffer.alloc(0))
    setXattr(path, odd, Buffer.from('v'))
    const names = listXattrs(path).map(n => n.toString('latin1')).sort()
    assert.deepEqual(names, ['user.binary', 'user.empty', odd.toString('latin1')].sort())
    assert.deepEqual(getXattr(path, 'user.binary'), Buffer.from([0, 1, 2, 0, 255]))
    assert.deepEqual(getXattr(path, 'user.empty'), Buffer.alloc(0))
    assert.deepEqual(getXattr(path, odd), Buffer.from('v'))
    assert.equal(getXattr(path, 'user.absent'), undefined)
    const bare = join(work, 'bare')
    await writeFile(bare, '')
    assert.deepEqual(listXattrs(bare).filter(n => n.toString().startsWith('user.')), [])
  })

  test('failures throw errors like node:fs: errno, code, syscall and path in a one-line message', () => {
    const missing = join(work, 'missing')
    assert.throws(() => lutimesNs(missing, [0, 0], [0, 0]), (err: any) =>
      err.code === 'ENOENT' && err.errno === -2 && err.syscall === 'utimensat' && err.path === missing &&
      err.message === `ENOENT: no such file or directory, utimensat '${missing}'`)
    assert.throws(() => listXattrs(missing), { code: 'ENOENT', syscall: 'llistxattr' })
    assert.throws(() => getXattr(missing, 'user.x'), { code: 'ENOENT', syscall: 'lgetxattr' })
    assert.throws(() => setXattr(missing, 'user.x', Buffer.from('x')), { code: 'ENOENT', syscall: 'lsetxattr' })
    assert.throws(() => mknod(join(missing, 'fifo'), 'fifo', 0o600), { code: 'ENOENT', syscall: 'mknod' })
  })

  test('mknod makes a FIFO with the permission bits asked (less the umask)', async () => {
    const path = join(work, 'fifo')
    mknod(path, 'fifo', 0o600)
    const st = await lstat(path)
    assert.ok(st.isFIFO())
    assert.equal(st.mode & 0o7777, 0o600)
  })

  test('mknod makes device nodes as root, with the device number split and joined as glibc does', { skip: root ? false : 'needs root' }, async () => {
    const path = join(work, 'null')
    mknod(path, 'char', 0o644, [1, 3])
    const st = await lstat(path, { bigint: true })
    assert.ok(st.isCharacterDevice())
    assert.deepEqual(splitDev(st.rdev), [1, 3])
    const block = join(work, 'loop')
    mknod(block, 'block', 0o600, [259, 300_000])
    const bst = await lstat(block, { bigint: true })
    assert.ok(bst.isBlockDevice())
    assert.deepEqual(splitDev(bst.rdev), [259, 300_000])
  })

  test('device numbers: makedev and splitDev are inverse, large majors and minors included', () => {
    for (const [ma, mi] of [[0, 0], [1, 3], [8, 17], [259, 1_048_575], [4095, 255], [4096, 256], [65_535, 1_000_000]]) {
      assert.deepEqual(splitDev(makedev(ma, mi)), [ma, mi])
    }
    assert.equal(makedev(1, 3), 259n)
  })

  test('an empty directory has no extended attributes listed by a user namespace', async () => {
    const dir = join(work, 'dir')
    await mkdir(dir)
    setXattr(dir, 'user.d', Buffer.from('1'))
    assert.ok(listXattrs(dir).some(n => n.toString() === 'user.d'))
  })
})
