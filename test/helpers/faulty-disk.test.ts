import assert from 'node:assert/strict'
import { mkdir, mkdtemp, open, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { Level } from 'level'
import { encodeLocation } from '../../src/store/location.ts'
import type { RootDb } from '../../src/store/sublevels.ts'
import { cidOf } from '../store/helpers.ts'
import { FaultyDisk, PowerCutError, systemError } from './faulty-disk.ts'
import { FaultyIndex } from './faulty-index.ts'

const bytes = (text: string): Buffer => Buffer.from(text)

/** A random source that returns these numbers in turn. */
function scripted (...values: number[]): () => number {
  let i = 0
  return () => values[i++ % values.length]
}

describe('faulty disk', { timeout: 30_000 }, () => {
  let root: string
  let dir: string
  let disk: FaultyDisk
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'drcore-faulty-'))
    dir = join(root, 'packs')
    await mkdir(dir)
    disk = new FaultyDisk({ stash: join(root, 'stash') })
  })
  afterEach(async () => { await rm(root, { recursive: true, force: true }) })

  async function createSynced (name: string, content: string): Promise<string> {
    const path = join(dir, name)
    const handle = await disk.openFile(path, 'wx')
    await handle.writev([bytes(content)], 0)
    await handle.datasync()
    await handle.close()
    await disk.directory.sync(dir)
    return path
  }

  it('shows a write at once, keeps it after a crash only once it is datasynced', async () => {
    const path = await createSynced('a', 'durable')
    const handle = await disk.openFile(path, 'r+')
    await handle.writev([bytes('-more'), bytes('-and-more')], 7)
    assert.equal(await readFile(path, 'utf8'), 'durable-more-and-more', 'visible before any sync')
    await disk.crash('drop')
    assert.equal(await readFile(path, 'utf8'), 'durable')

    const again = await disk.openFile(path, 'r+')
    await again.writev([bytes('-synced')], 7)
    await again.datasync()
    await again.writev([bytes('!')], 14)
    await disk.crash('drop')
    assert.equal(await readFile(path, 'utf8'), 'durable-synced')
  })

  it('undoes an unsynced overwrite and an unsynced truncate', async () => {
    const path = await createSynced('a', '0123456789')
    const handle = await disk.openFile(path, 'r+')
    await handle.writev([bytes('ab')], 3)
    await handle.truncate(4)
    assert.equal(await readFile(path, 'utf8'), '012a')
    await disk.crash('drop')
    assert.equal(await readFile(path, 'utf8'), '0123456789')
  })

  it('loses a created file at a crash unless its directory was synced, even when its data was', async () => {
    const path = join(dir, 'new')
    const handle = await disk.openFile(path, 'wx')
    await handle.writev([bytes('data')], 0)
    await handle.datasync()
    assert.deepEqual(await readdir(dir), ['new'])
    await disk.crash('drop')
    assert.deepEqual(await readdir(dir), [])

    await createSynced('kept', 'x')
    await disk.crash('drop')
    assert.deepEqual(await readdir(dir), ['kept'])
  })

  it('brings back an unlinked file, with its durable bytes, when the crash comes before the directory sync', async () => {
    const path = await createSynced('a', 'durable')
    const handle = await disk.openFile(path, 'r+')
    await handle.writev([bytes('+unsynced')], 7)
    await handle.close()
    await disk.directory.unlink(path)
    assert.deepEqual(await readdir(dir), [])
    await disk.crash('drop')
    assert.equal(await readFile(path, 'utf8'), 'durable')

    await disk.directory.unlink(path)
    await disk.directory.sync(dir)
    await disk.crash('drop')
    assert.deepEqual(await readdir(dir), [])
    assert.deepEqual(await readdir(join(root, 'stash')), [], 'nothing kept aside once the deletion is durable')
  })

  it('tears the last unsynced write: a strict prefix of it survives, earlier unsynced writes do not', async () => {
    const path = await createSynced('a', 'base:')
    const handle = await disk.openFile(path, 'r+')
    await handle.writev([bytes('first')], 5)
    await handle.writev([bytes('0123456789')], 10)
    await disk.crash('tear', scripted(0.5))
    const after = await readFile(path)
    assert.equal(after.subarray(0, 5).toString(), 'base:')
    assert.deepEqual([...after.subarray(5, 10)], [0, 0, 0, 0, 0], 'the earlier write is lost (a hole reads as zeros)')
    assert.equal(after.subarray(10).toString(), '01234', 'a prefix of 1 + floor(0.5 * 9) bytes')
  })

  it('keeps every unsynced change on a process crash, and an in-order prefix on writeback', async () => {
    const path = await createSynced('a', 'base:')
    const handle = await disk.openFile(path, 'r+')
    await handle.writev([bytes('one,')], 5)
    await handle.writev([bytes('two,')], 9)
    await handle.writev([bytes('three')], 13)
    await disk.crash('process')
    assert.equal(await readFile(path, 'utf8'), 'base:one,two,three')

    const again = await disk.openFile(path, 'r+')
    await again.writev([bytes('ONE,')], 5)
    await again.writev([bytes('TWO,')], 9)
    await again.writev([bytes('THREE')], 13)
    // directory: keep 0 changes; the file: keep 1 of 3 changes, then tear the second after 1 + 0.5 * 3 bytes
    await disk.crash('writeback', scripted(0, 0.4, 0.1, 0.5))
    assert.equal(await readFile(path, 'utf8'), 'base:ONE,TWo,three')
  })

  it('fails the nth matching call with the errno, code and syscall node gives', async () => {
    const path = await createSynced('a', 'x')
    const real = await open(join(dir, 'missing')).catch((err: NodeJS.ErrnoException) => err) as NodeJS.ErrnoException
    const fault = disk.inject({ op: 'datasync', code: 'EIO', nth: 2 })
    const handle = await disk.openFile(path, 'r+')
    await handle.datasync()
    await assert.rejects(handle.datasync(), (err: NodeJS.ErrnoException) => {
      assert.equal(err.message, 'EIO: i/o error, fdatasync')
      assert.deepEqual([err.errno, err.code, err.syscall], [-5, 'EIO', 'fdatasync'])
      assert.deepEqual(Object.keys(err).sort(), Object.keys(real).filter((k) => k !== 'path').sort())
      return true
    })
    await handle.datasync()
    await handle.close()
    assert.equal(fault.fired, 1)

    disk.inject({ op: 'open', code: 'ENOSPC', when: (call) => call.flags === 'wx' })
    await assert.rejects(disk.openFile(join(dir, 'b'), 'wx'), (err: NodeJS.ErrnoException) => {
      assert.equal(err.message, `ENOSPC: no space left on device, open '${join(dir, 'b')}'`)
      assert.deepEqual([err.errno, err.code, err.syscall, err.path], [-28, 'ENOSPC', 'open', join(dir, 'b')])
      return true
    })
    assert.equal(systemError('ENOSPC', 'write').message, 'ENOSPC: no space left on device, write')
  })

  it('writes part of a faulted writev, then throws or returns short', async () => {
    const path = await createSynced('a', '')
    const handle = await disk.openFile(path, 'r+')
    disk.inject({ op: 'writev', code: 'ENOSPC', written: 3 })
    await assert.rejects(handle.writev([bytes('abc'), bytes('def')], 0), { code: 'ENOSPC', syscall: 'write' })
    assert.equal(await readFile(path, 'utf8'), 'abc')
    disk.inject({ op: 'writev', written: 4 })
    assert.deepEqual(await handle.writev([bytes('ABCDEF')], 0), { bytesWritten: 4 })
    assert.equal(await readFile(path, 'utf8'), 'ABCD')
    await handle.close()
  })

  it('cuts the power before the nth mutating call: that call and every later one fail, and the old handles stay dead', async () => {
    const path = await createSynced('a', 'x')
    const handle = await disk.openFile(path, 'r+')
    disk.cutPowerAt(2)
    await handle.writev([bytes('y')], 1)
    await assert.rejects(handle.datasync(), PowerCutError)
    await assert.rejects(handle.writev([bytes('z')], 2), PowerCutError)
    await assert.rejects(disk.directory.sync(dir), PowerCutError)
    await disk.crash('drop')
    assert.equal(await readFile(path, 'utf8'), 'x')
    await assert.rejects(handle.writev([bytes('z')], 1), PowerCutError)
    await handle.close()
    const fresh = await disk.openFile(path, 'r+')
    await fresh.writev([bytes('z')], 1)
    await fresh.close()
    assert.equal(await readFile(path, 'utf8'), 'xz')
  })

  it('traces writes with the datasync that made them durable, and marks those a crash lost', async () => {
    const mark = disk.nextSeq
    const path = await createSynced('a', 'one')
    const handle = await disk.openFile(path, 'r+')
    await handle.writev([bytes('two')], 3)
    await disk.crash('drop')
    const trace = disk.since(mark)
    assert.deepEqual(trace.map((e) => e.op), ['open', 'writev', 'datasync', 'syncdir', 'open', 'writev', 'power cut', 'crash'])
    const [, first, sync, , , second, , crash] = trace
    assert.match(crash.detail!, /^crash \(drop\): a: 1 of 1 unsynced changes lost$/)
    assert.deepEqual([first.position, first.length, first.written, first.syncedAt, first.lost], [0, 3, 3, sync.seq, undefined])
    assert.deepEqual([second.position, second.syncedAt, second.lost], [3, undefined, true])
    assert.equal(trace[0].created, true)
  })
})

describe('faulty index', { timeout: 30_000 }, () => {
  let root: string
  let dir: string
  let disk: FaultyDisk
  let db: RootDb
  let index: FaultyIndex
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'drcore-faulty-'))
    dir = join(root, 'packs')
    await mkdir(dir)
    disk = new FaultyDisk({ stash: join(root, 'stash') })
    index = new FaultyIndex(disk, dir)
    db = new Level<string, any>(join(root, 'index'))
    await db.open()
    index.wrap(db)
  })
  afterEach(async () => {
    await db.close()
    await rm(root, { recursive: true, force: true })
  })

  const put = (key: string, value: string) => ({ type: 'put' as const, sublevel: db.sublevel<string, string>('s', {}), key, value })

  it('rolls back every batch after the last acknowledged synced one on drop, and none on a process crash', async () => {
    await db.batch([put('a', '1')], { sync: false })
    await db.batch([put('b', '1')], { sync: true })
    await db.batch([put('a', '2'), put('c', '1')], { sync: false })
    await db.batch([{ type: 'del', sublevel: db.sublevel<string, string>('s', {}), key: 'b' }], {})
    await disk.crash('drop')
    assert.deepEqual(await db.sublevel<string, string>('s', {}).iterator().all(), [['a', '1'], ['b', '1']])
    const mark = disk.nextSeq
    index.wrap(db)
    await db.batch([put('d', '1')], {})
    await disk.crash('process')
    assert.deepEqual((await db.sublevel<string, string>('s', {}).keys().all()), ['a', 'b', 'd'])
    assert.equal(disk.trace.filter((e) => e.seq >= mark && e.op === 'batch' && e.lost === true).length, 0)
  })

  it('drops a random suffix of the unsynced batches on writeback, in log order', async () => {
    for (const key of ['a', 'b', 'c']) await db.batch([put(key, '1')], {})
    await disk.crash('writeback', scripted(0.5)) // lose 2 of 3
    assert.deepEqual(await db.sublevel<string, string>('s', {}).keys().all(), ['a'])
  })

  it('refuses batches after a power cut, and those of an earlier generation', async () => {
    disk.cutPower()
    await assert.rejects(db.batch([put('a', '1')], {}), PowerCutError)
    await disk.crash('drop')
    await assert.rejects(db.batch([put('a', '1')], {}), PowerCutError)
  })

  it('records each batch with its sync flag, and flags index entries for bytes that are not durable', async () => {
    const path = join(dir, '00000001.pack')
    await writeFile(path, '') // there before the disk looked: taken as durable
    const handle = await disk.openFile(path, 'r+')
    await handle.writev([Buffer.alloc(100)], 0)
    const blocks = db.sublevel<Uint8Array, Uint8Array>('blocks', { keyEncoding: 'view', valueEncoding: 'view' })
    const entry = (offset: number) => ({ type: 'put' as const, sublevel: blocks, key: cidOf(bytes(String(offset))).bytes, value: encodeLocation({ flags: 0, pack: 1, offset, storedLength: 10, rawLength: 10 }) })
    const mark = disk.nextSeq
    await db.batch([entry(10)], { sync: true })
    await handle.datasync()
    await db.batch([entry(20)], { sync: false })
    await handle.close()
    const batches = disk.trace.filter((e) => e.seq >= mark && e.op === 'batch')
    assert.deepEqual(batches.map((e) => [e.sync, e.batch?.notDurable.length]), [[true, 1], [false, 0]])
    assert.match(batches[0].batch!.notDurable[0], /at 10\+10 of .*00000001\.pack/)
  })
})
