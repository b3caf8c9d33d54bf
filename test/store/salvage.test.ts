import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { blocksSublevel } from '../../src/store/sublevels.ts'
import { decodeLocation } from '../../src/store/location.ts'
import { packFileName } from '../../src/store/pack-format.ts'
import type { BlockStore } from '../../src/store/index.ts'
import { block, collect, TestRepo } from './helpers.ts'
import type { Block } from './helpers.ts'
import { blockCopies, damageCopy } from '../helpers/damage.ts'

/** Stores `b` through `n` writers open at once: each writes its own copy into the packs. */
async function storeTimes (store: BlockStore, b: Block, n: number): Promise<void> {
  const writers = Array.from({ length: n }, () => store.writer())
  for (const w of writers) assert.equal(await w.put(b.cid, b.bytes), true)
  for (const w of writers) await w.commit()
}

/** Real files: a text file zstd shrinks, and a gzip file it does not (stored as is). */
const SAMPLES = [
  ['compressed', '/usr/share/perl/5.36.0/Pod/Usage.pm'],
  ['stored as is', '/usr/share/doc/gzip/changelog.Debian.gz']
] as const

describe('salvage: another good copy in the packs', { timeout: 60_000 }, () => {
  let repo: TestRepo
  beforeEach(async () => { repo = await TestRepo.create() })
  afterEach(async () => { await repo.cleanup() })

  for (const [kind, path] of SAMPLES) {
    it(`rebuilds a quarantined block (${kind}) from a copy that verifies, past copies that do not`, async () => {
      const store = await repo.open()
      const b = block(new Uint8Array(await readFile(path)))
      await storeTimes(store, b, 3)
      const copies = await blockCopies(repo.root, b.cid)
      assert.equal(copies.length, 3)
      // the indexed copy and another are damaged; one good copy is left
      const location = decodeLocation((await blocksSublevel(repo.db).get(b.cid.bytes))!)
      const indexed = copies.findIndex(c => c.path.endsWith(packFileName(location.pack)) && c.bodyOffset === location.offset)
      assert.ok(indexed >= 0)
      await damageCopy(copies[indexed])
      await damageCopy(copies[(indexed + 1) % 3])
      await assert.rejects(store.get(b.cid)) // a read quarantines the damaged indexed copy
      assert.equal(await store.has(b.cid), false)

      const found = await store.salvage([b.cid])
      assert.deepEqual(found.map(String), [b.cid.toString()])
      assert.deepEqual(new Uint8Array(await store.get(b.cid)), b.bytes)
      assert.deepEqual(await collect(store.damaged()), [], 'healed')
      assert.ok((await collect(store.verifyAll())).every(r => r.ok))
      await store.close()
    })
  }

  it('indexes again a block whose index entry is gone, and finds nothing for a block with no good copy', async () => {
    const store = await repo.open()
    const [kept, lost] = await Promise.all(SAMPLES.map(async ([, path]) => block(new Uint8Array(await readFile(path)))))
    await storeTimes(store, kept, 1)
    await storeTimes(store, lost, 1)
    await blocksSublevel(repo.db).del(kept.cid.bytes)
    for (const copy of await blockCopies(repo.root, lost.cid)) await damageCopy(copy)
    await assert.rejects(store.get(lost.cid))

    assert.deepEqual((await store.salvage([kept.cid, lost.cid])).map(String), [kept.cid.toString()])
    assert.deepEqual(new Uint8Array(await store.get(kept.cid)), kept.bytes)
    assert.equal(await store.has(lost.cid), false)
    assert.equal((await collect(store.damaged())).length, 1)
    await store.close()
  })
})
