import assert from 'node:assert/strict'
import { constants } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { CorruptBlockError } from '../../src/errors.ts'
import { blocksSublevel } from '../../src/store/sublevels.ts'
import { decodeLocation } from '../../src/store/location.ts'
import { BlockIntegrityError } from '../../src/store/index.ts'
import type { OpenPackFile } from '../../src/store/index.ts'
import { openPackFile } from '../../src/store/pack-files.ts'
import type { CID } from 'multiformats/cid'
import { block, collect, compressibleBlock, flipByte, putAll, randomBlock, TestRepo } from './helpers.ts'

/** Flips the last byte of a block's stored body in its pack. */
async function damage (repo: TestRepo, cid: CID): Promise<void> {
  const value = await blocksSublevel(repo.db).get(cid.bytes)
  assert.ok(value !== undefined, `block ${cid} is indexed`)
  const location = decodeLocation(value)
  await flipByte(join(repo.packsDir, `${String(location.pack).padStart(8, '0')}.pack`), location.offset + location.storedLength - 1)
}

/** Real pack files whose reads fail with EIO while `failing.on` is set. */
function unreadableDisk (failing: { on: boolean }): OpenPackFile {
  return async (path, flags) => {
    const real = await openPackFile(path, flags)
    return {
      writev: async (buffers, position) => await real.writev(buffers, position),
      read: async (buffer, offset, length, position) => {
        if (failing.on) throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO', errno: -constants.errno.EIO, syscall: 'read' })
        return await real.read(buffer, offset, length, position)
      },
      datasync: async () => await real.datasync(),
      truncate: async (length) => await real.truncate(length),
      close: async () => await real.close()
    }
  }
}

describe('damaged blocks: quarantine and healing', { timeout: 60_000 }, () => {
  let repo: TestRepo
  beforeEach(async () => { repo = await TestRepo.create() })
  afterEach(async () => { await repo.cleanup() })

  for (const [kind, make] of [['stored as is', () => randomBlock(20_000)], ['compressed', () => compressibleBlock(20_000)]] as const) {
    it(`a damaged block (${kind}) is quarantined by verify, and the next put of its bytes stores a good copy`, async () => {
      const store = await repo.open()
      const blocks = Array.from({ length: 5 }, make)
      await putAll(store, blocks)
      const victim = blocks[2]
      await damage(repo, victim.cid)

      // before anyone looked, the damage is invisible to a writer: this is why verify quarantines
      const unaware = store.writer()
      assert.equal(await unaware.put(victim.cid, victim.bytes), false)
      await unaware.abort()

      const failed = (await collect(store.verifyAll())).filter(r => !r.ok)
      assert.deepEqual(failed.map(r => r.cid.toString()), [victim.cid.toString()])
      const quarantined = await store.quarantine(failed.map(r => ({ cid: r.cid, reason: r.error! })))
      assert.deepEqual(quarantined.map(String), [victim.cid.toString()])
      assert.equal(await store.has(victim.cid), false, 'a damaged block is not "had" any more')
      assert.deepEqual(await store.hasMany([blocks[1].cid, victim.cid]), [true, false])
      assert.equal(await store.size(victim.cid), undefined)
      await assert.rejects(store.get(victim.cid), (err: Error) => err instanceof CorruptBlockError && /found damaged .* waits for a good copy/.test(err.message))
      const damaged = await collect(store.damaged())
      assert.deepEqual(damaged.map(d => d.cid.toString()), [victim.cid.toString()])
      assert.match(damaged[0].reason, /is corrupt/)

      const writer = store.writer()
      assert.equal(await writer.put(victim.cid, victim.bytes), true, 'the good bytes are stored again')
      assert.equal((await writer.commit()).healed, 1)
      assert.deepEqual(new Uint8Array(await store.get(victim.cid)), victim.bytes)
      assert.deepEqual(await collect(store.damaged()), [])
      assert.ok((await collect(store.verifyAll())).every(r => r.ok))
      await store.close()
    })
  }

  it('quarantine survives a restart, and healing after it too', async () => {
    let store = await repo.open()
    const blocks = Array.from({ length: 3 }, () => compressibleBlock(9000))
    await putAll(store, blocks)
    await damage(repo, blocks[0].cid)
    await store.quarantine([{ cid: blocks[0].cid, reason: 'found by a test' }])
    await store.close()
    store = await repo.open()
    assert.equal(await store.has(blocks[0].cid), false)
    assert.equal((await collect(store.damaged())).length, 1)
    const writer = store.writer()
    assert.equal(await writer.put(blocks[0].cid, blocks[0].bytes), true)
    await writer.commit()
    await store.close()
    store = await repo.open()
    assert.deepEqual(await collect(store.damaged()), [])
    assert.deepEqual(new Uint8Array(await store.get(blocks[0].cid)), blocks[0].bytes)
    await store.close()
  })

  it('quarantine reads each block again and leaves one that reads well', async () => {
    const store = await repo.open()
    const a = compressibleBlock(9000)
    await putAll(store, [a])
    assert.deepEqual(await store.quarantine([{ cid: a.cid, reason: 'a passing error' }]), [])
    assert.equal(await store.has(a.cid), true)
    await store.close()
  })

  it('a read that finds a block corrupt quarantines it', async () => {
    const store = await repo.open()
    const blocks = Array.from({ length: 3 }, () => randomBlock(5000))
    await putAll(store, blocks)
    await damage(repo, blocks[1].cid)
    await assert.rejects(store.get(blocks[1].cid), /do not match its hash/)
    assert.equal(await store.has(blocks[1].cid), false)
    assert.equal((await collect(store.damaged())).length, 1)
    await store.close()
  })

  it('an unreadable copy (EIO) is quarantined, and reinstated once it reads well again', async () => {
    const failing = { on: false }
    const store = await repo.open({ openFile: unreadableDisk(failing) })
    const a = compressibleBlock(9000)
    await putAll(store, [a])
    failing.on = true
    const results = await collect(store.verifyAll())
    assert.equal(results.length, 1)
    assert.equal(results[0].ok, false)
    assert.match(results[0].error!, /EIO/)
    assert.equal((await store.quarantine([{ cid: a.cid, reason: results[0].error! }])).length, 1)
    assert.match((await collect(store.damaged()))[0].reason, /EIO/)
    assert.deepEqual(await store.reinstate(), [], 'still unreadable: stays in quarantine')
    failing.on = false
    assert.deepEqual((await store.reinstate()).map(String), [a.cid.toString()])
    assert.deepEqual(new Uint8Array(await store.get(a.cid)), a.bytes)
    assert.deepEqual(await collect(store.damaged()), [])
    await store.close()
  })
})

describe('verify under read errors', { timeout: 60_000 }, () => {
  let repo: TestRepo
  beforeEach(async () => { repo = await TestRepo.create() })
  afterEach(async () => { await repo.cleanup() })

  it('an EIO in one pack reports the blocks of that pack and goes on with the next', async () => {
    const failing = new Set<string>()
    const openFile: OpenPackFile = async (path, flags) => {
      const real = await openPackFile(path, flags)
      return {
        ...real,
        writev: async (buffers, position) => await real.writev(buffers, position),
        datasync: async () => await real.datasync(),
        truncate: async (length) => await real.truncate(length),
        close: async () => await real.close(),
        read: async (buffer, offset, length, position) => {
          if (failing.has(path)) throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO', errno: -constants.errno.EIO, syscall: 'read' })
          return await real.read(buffer, offset, length, position)
        }
      }
    }
    // the first pack is full after the first four blocks: the next ones go to a second pack
    const store = await repo.open({ openFile, limits: { packTargetSize: 30_000 } })
    const first = Array.from({ length: 4 }, () => randomBlock(8000))
    const second = Array.from({ length: 4 }, () => compressibleBlock(8000))
    await putAll(store, first)
    await putAll(store, second)
    failing.add(join(repo.packsDir, '00000001.pack'))
    const results = await collect(store.verifyAll())
    assert.equal(results.length, 8)
    for (const b of first) assert.match(results.find(r => r.cid.equals(b.cid))!.error ?? '', /EIO/)
    for (const b of second) assert.equal(results.find(r => r.cid.equals(b.cid))!.ok, true)
    await store.close()
  })
})

describe('the write-path check', { timeout: 60_000 }, () => {
  let repo: TestRepo
  beforeEach(async () => { repo = await TestRepo.create() })
  afterEach(async () => { await repo.cleanup() })

  const branches: Array<[string, () => Uint8Array]> = [
    ['tiny', () => new Uint8Array([1, 2, 3])],
    ['incompressible', () => randomBlock(30_000).bytes],
    ['compressible', () => compressibleBlock(30_000).bytes],
    ['small, zstd tries and fails', () => randomBlock(500).bytes]
  ]
  for (const [name, make] of branches) {
    it(`bytes that do not match their CID (${name}) are refused by put, the commit fails, and nothing of the batch is indexed`, async () => {
      const store = await repo.open()
      const good = compressibleBlock(10_000)
      const claimed = block(make())
      const other = claimed.bytes.slice()
      other[other.length - 1] ^= 1
      const writer = store.writer()
      await writer.put(good.cid, good.bytes)
      const refused = (err: Error): boolean => err instanceof BlockIntegrityError && err.message.includes(claimed.cid.toString())
      await assert.rejects(writer.put(claimed.cid, other), refused)
      await assert.rejects(writer.commit([{ type: 'put', sublevel: 'points', key: 'p', value: 1 }]), refused)
      assert.equal(await store.has(good.cid), false, 'nothing of the failed batch is indexed')
      assert.equal(await store.has(claimed.cid), false)
      assert.ok((await collect(store.verifyAll())).every(r => r.ok))
      await store.close()
    })
  }
})
