import assert from 'node:assert/strict'
import { readdir, stat } from 'node:fs/promises'
import { constants } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { isExpectedError } from '../../src/errors.ts'
import { jsonSublevel, PackWriteError } from '../../src/store/index.ts'
import type { OpenPackFile, PackFileHandle } from '../../src/store/index.ts'
import { openPackFile } from '../../src/store/pack-files.ts'
import { compressibleBlock, putAll, randomBlock, TestRepo } from './helpers.ts'

function systemError (code: 'ENOSPC' | 'EIO', syscall: string): NodeJS.ErrnoException {
  const message = code === 'ENOSPC' ? 'no space left on device' : 'i/o error'
  return Object.assign(new Error(`${code}: ${message}, ${syscall}`), { code, errno: -constants.errno[code], syscall })
}

/**
 * Opens real pack files that fail the way a disk does once `failing.armed` is set: on `writev`,
 * as a file system that fills up (the kernel writes what fits and returns short; the next write
 * fails with ENOSPC), or on `datasync` with EIO. `maxWrite` makes every `writev` write at most
 * that many bytes, as a kernel may.
 */
function failingDisk (failing: { armed: boolean, on: 'writev' | 'datasync', maxWrite?: number }): OpenPackFile {
  return async (path, flags) => {
    const real = await openPackFile(path, flags)
    let full = false
    const handle: PackFileHandle = {
      writev: async (buffers, position) => {
        const all = Buffer.concat(buffers)
        if (failing.armed && failing.on === 'writev') {
          if (full) throw systemError('ENOSPC', 'write')
          full = true
          return await real.writev([all.subarray(0, all.length >> 1)], position)
        }
        if (failing.maxWrite !== undefined) return await real.writev([all.subarray(0, failing.maxWrite)], position)
        return await real.writev(buffers, position)
      },
      datasync: async () => {
        if (failing.armed && failing.on === 'datasync') throw systemError('EIO', 'fsync')
        await real.datasync()
      },
      read: async (...args) => await real.read(...args),
      truncate: async (length) => await real.truncate(length),
      close: async () => await real.close()
    }
    return handle
  }
}

describe('block writer', { timeout: 60_000 }, () => {
  let repo: TestRepo
  beforeEach(async () => { repo = await TestRepo.create() })
  afterEach(async () => { await repo.cleanup() })

  it('says whether each put will be stored, and stores a block once', async () => {
    const store = await repo.open()
    const a = randomBlock(5000)
    const b = randomBlock(5000)
    const writer = store.writer()
    assert.equal(await writer.put(a.cid, a.bytes), true)
    assert.equal(await writer.put(a.cid, a.bytes), false, 'pending in this writer')
    assert.equal(await writer.put(b.cid, b.bytes), true)
    await writer.flush()
    assert.equal(await writer.put(a.cid, a.bytes), false, 'indexed')
    const stats = await writer.commit()
    assert.deepEqual(stats, { blocks: 2, newBytes: 10_000, storedBytes: 10_000 + 2 * 42, healed: 0 })
    await store.close()
  })

  it('deduplicates puts of the same block issued together', async () => {
    const store = await repo.open()
    const a = randomBlock(5000)
    const writer = store.writer()
    const answers = await Promise.all([writer.put(a.cid, a.bytes), writer.put(a.cid, a.bytes), writer.put(a.cid, a.bytes)])
    assert.deepEqual(answers.sort(), [false, false, true])
    assert.equal((await writer.commit()).blocks, 1)
    await store.close()
  })

  it('deduplicates against blocks other writers committed', async () => {
    const store = await repo.open()
    const shared = Array.from({ length: 20 }, () => randomBlock(3000))
    const first = store.writer()
    for (const b of shared) await first.put(b.cid, b.bytes)
    await first.commit()
    const packBytes = (await store.stats()).packBytes

    const second = store.writer()
    for (const b of shared) assert.equal(await second.put(b.cid, b.bytes), false)
    const fresh = randomBlock(3000)
    assert.equal(await second.put(fresh.cid, fresh.bytes), true)
    assert.deepEqual(await second.commit(), { blocks: 1, newBytes: 3000, storedBytes: 3042, healed: 0 })
    assert.equal((await store.stats()).packBytes, packBytes + 3042)
    await store.close()
  })

  it('lets several writers write at once, each to its own pack', async () => {
    const store = await repo.open()
    const sets = [0, 1, 2].map(() => Array.from({ length: 30 }, () => randomBlock(2000)))
    const writers = sets.map(() => store.writer())
    for (let i = 0; i < 30; i++) {
      await Promise.all(writers.map(async (w, j) => await w.put(sets[j][i].cid, sets[j][i].bytes)))
      if (i === 15) await Promise.all(writers.map(async (w) => await w.flush()))
    }
    await Promise.all(writers.map(async (w) => await w.commit()))
    assert.equal((await readdir(repo.packsDir)).length, 3)
    for (const b of sets.flat()) assert.deepEqual(new Uint8Array(await store.get(b.cid)), b.bytes)
    await store.close()
  })

  it('makes blocks visible only once they are flushed', async () => {
    const store = await repo.open()
    const a = randomBlock(1000)
    const writer = store.writer()
    await writer.put(a.cid, a.bytes)
    assert.equal(await store.has(a.cid), false)
    await assert.rejects(store.get(a.cid), /is not in the repository/)
    await writer.flush()
    assert.equal(await store.has(a.cid), true)
    await writer.commit()
    await store.close()
  })

  it('commits index ops in the same batch as the last blocks, never before them', async () => {
    const store = await repo.open()
    const points = jsonSublevel<{ root: string }>(repo.db, 'points')
    const a = randomBlock(1000)
    const b = randomBlock(1000)
    const writer = store.writer()
    await writer.put(a.cid, a.bytes)
    await writer.flush()
    await writer.put(b.cid, b.bytes)
    assert.equal(await points.get('p1'), undefined)

    // watch every batch written to the database
    const batches: string[][] = []
    repo.db.on('write', (ops: Array<{ key: string | Uint8Array }>) => {
      batches.push(ops.map((op) => /^![a-z]+!/.exec(Buffer.from(op.key).toString('latin1'))![0]))
    })
    await writer.commit([{ type: 'put', sublevel: 'points', key: 'p1', value: { root: b.cid.toString() } }])
    assert.equal(batches.length, 1)
    assert.deepEqual(batches[0].sort(), ['!blocks!', '!packs!', '!points!'])
    assert.deepEqual(await points.get('p1'), { root: b.cid.toString() })
    assert.equal(await store.has(b.cid), true)
    await store.close()
  })

  it('commits ops alone when no block is pending, and deletes with del ops', async () => {
    const store = await repo.open()
    const refs = jsonSublevel<number>(repo.db, 'refs')
    await refs.put('old', 1)
    const stats = await store.writer().commit([{ type: 'put', sublevel: 'refs', key: 'new', value: 2 }, { type: 'del', sublevel: 'refs', key: 'old' }])
    assert.deepEqual(stats, { blocks: 0, newBytes: 0, storedBytes: 0, healed: 0 })
    assert.equal(await refs.get('old'), undefined)
    assert.equal(await refs.get('new'), 2)
    await store.close()
  })

  it('refuses index ops that would write the store\'s own sublevels', async () => {
    const store = await repo.open()
    const writer = store.writer()
    await assert.rejects(writer.commit([{ type: 'del', sublevel: 'blocks', key: 'x' }]), /own sublevel "blocks"/)
    await store.close()
  })

  it('flushes in the background once the pending batch is full, and stays correct', async () => {
    const store = await repo.open({ limits: { flushBlocks: 8, flushBytes: 1 << 30 } })
    const blocks = Array.from({ length: 100 }, (_, i) => i % 2 === 0 ? randomBlock(1500) : compressibleBlock(1500))
    const writer = store.writer()
    for (const b of blocks) await writer.put(b.cid, b.bytes)
    assert.ok((await store.stats()).blocks >= 80, 'most batches are indexed before commit')
    await writer.commit()
    assert.equal((await store.stats()).blocks, 100)
    for (const b of blocks) assert.deepEqual(new Uint8Array(await store.get(b.cid)), b.bytes)
    await store.close()
  })

  it('with the default limits, each flush appends at most 8 MiB of blocks (the writer holds two flushes at most)', async () => {
    const appended: number[] = []
    const store = await repo.open({
      openFile: async (path, flags) => {
        const real = await openPackFile(path, flags)
        return {
          ...real,
          writev: async (buffers, position) => {
            appended.push(buffers.reduce((n, b) => n + b.length, 0))
            return await real.writev(buffers, position)
          },
          datasync: async () => await real.datasync(),
          read: async (...args) => await real.read(...args),
          truncate: async (length) => await real.truncate(length),
          close: async () => await real.close()
        }
      }
    })
    // incompressible: a block's stored body is as large as the block
    const blocks = Array.from({ length: 400 }, () => randomBlock(64 * 1024))
    const writer = store.writer()
    for (const b of blocks) await writer.put(b.cid, b.bytes)
    await writer.commit()
    assert.ok(appended.length >= 3, `25 MiB went out in ${appended.length} flushes`)
    const limit = 8 * 1024 * 1024 + 64 * 1024 + 400 * 64
    for (const bytes of appended) assert.ok(bytes <= limit, `a flush appended ${bytes} bytes, more than 8 MiB and one block`)
    await store.close()
  })

  it('syncs the index on flush even when only background batches (written unsynced) are pending', async () => {
    const store = await repo.open({ limits: { flushBlocks: 4 } })
    let writes = 0
    repo.db.on('write', () => { writes++ })
    const writer = store.writer()
    for (let i = 0; i < 8; i++) {
      const b = randomBlock(100)
      await writer.put(b.cid, b.bytes) // the 4th and 8th start background flushes
    }
    await writer.flush()
    // the new pack's record, two background batches, then one synced batch with nothing new in it
    assert.equal(writes, 4)
    await writer.flush()
    await writer.commit()
    assert.equal(writes, 4, 'nothing unsynced and nothing queued: no write')
    await store.close()
  })

  it('writes thousands of records in one flush (more than one writev can carry)', async () => {
    const store = await repo.open()
    const blocks = Array.from({ length: 3000 }, () => randomBlock(100))
    await putAll(store, blocks)
    for (const b of blocks.slice(-10)) assert.deepEqual(new Uint8Array(await store.get(b.cid)), b.bytes)
    assert.equal((await stat(join(repo.packsDir, '00000001.pack'))).size, 8 + 3000 * 142)
    await store.close()
  })

  it('drops unflushed blocks on abort and keeps flushed ones', async () => {
    const store = await repo.open()
    const kept = randomBlock(1000)
    const dropped = randomBlock(1000)
    const writer = store.writer()
    await writer.put(kept.cid, kept.bytes)
    await writer.flush()
    await writer.put(dropped.cid, dropped.bytes)
    await writer.abort()
    assert.deepEqual(await store.hasMany([kept.cid, dropped.cid]), [true, false])
    await assert.rejects(writer.put(dropped.cid, dropped.bytes), /writer is closed/)
    await store.close()
  })

  it('goes on after short writes until every byte of a flush is written', async () => {
    const store = await repo.open({ openFile: failingDisk({ armed: false, on: 'writev', maxWrite: 777 }) })
    const blocks = [randomBlock(5000), compressibleBlock(20_000), randomBlock(1), randomBlock(3000)]
    await putAll(store, blocks)
    await store.close()
    const reopened = await repo.open()
    for (const b of blocks) assert.deepEqual(new Uint8Array(await reopened.get(b.cid)), b.bytes)
    for await (const r of reopened.verifyAll()) assert.ok(r.ok, `block ${r.cid} verifies`)
    await reopened.close()
  })

  for (const on of ['writev', 'datasync'] as const) {
    it(`turns a failing ${on} into one clear UserError and indexes nothing of that flush`, async () => {
      const failing = { armed: false, on }
      let store = await repo.open({ openFile: failingDisk(failing) })
      const before = randomBlock(20_000)
      await putAll(store, [before])
      const packPath = join(repo.packsDir, '00000001.pack')
      const committedSize = (await stat(packPath)).size

      const lost = [randomBlock(20_000), compressibleBlock(20_000)]
      const writer = store.writer()
      for (const b of lost) await writer.put(b.cid, b.bytes)
      failing.armed = true
      const expected = on === 'writev'
        ? `no space left on device writing pack ${packPath}; free space and run the command again`
        : `i/o error writing pack ${packPath}; the disk may be failing: check it (dmesg) before trying again`
      await assert.rejects(writer.commit([{ type: 'put', sublevel: 'points', key: 'p', value: 1 }]), (err: unknown) => {
        assert.ok(err instanceof PackWriteError && isExpectedError(err))
        assert.equal(err.message, expected)
        assert.ok(!err.message.includes('\n'))
        return true
      })
      assert.deepEqual(await store.hasMany(lost.map((b) => b.cid)), [false, false])
      assert.equal(await jsonSublevel(repo.db, 'points').get('p'), undefined)
      assert.equal((await stat(packPath)).size, committedSize, 'the partial append was cut off again')
      await assert.rejects(writer.put(before.cid, before.bytes), PackWriteError)
      await store.close()

      failing.armed = false
      store = await repo.open()
      assert.deepEqual(new Uint8Array(await store.get(before.cid)), before.bytes)
      assert.equal((await store.stats()).blocks, 1)
      await putAll(store, lost) // the store is usable again
      for (const b of lost) assert.deepEqual(new Uint8Array(await store.get(b.cid)), b.bytes)
      await store.close()
    })
  }
})
