import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, createPublicKey, verify } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { CarBlockIterator, CarIndexer, CarReader } from '@ipld/car'
import * as dagCbor from '@ipld/dag-cbor'
import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import type { OfflineCore } from '../../src/core/index.ts'
import type { SeedCreateResult } from '../../src/seed/api.ts'
import { decompressParts, Machine } from './fixtures.ts'
import { openOfflineCore } from '../support/core.ts'
import { tempDir } from '../support/dirs.ts'

const RAW = 0x55
const DAG_CBOR = 0x71
const SHA2_256 = 0x12

/** An Ed25519 peer id's public key as a node:crypto key (identity multihash of the libp2p protobuf key). */
function publicKeyOf (peerId: string) {
  const multihash = base58btc.baseDecode(peerId)
  assert.deepEqual([...multihash.subarray(0, 2)], [0x00, 36], 'identity multihash of 36 bytes')
  assert.deepEqual([...multihash.subarray(2, 6)], [0x08, 0x01, 0x12, 0x20], 'protobuf: Ed25519, 32-byte key')
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), multihash.subarray(6)])
  return createPublicKey({ key: spki, format: 'der', type: 'spki' })
}

/**
 * A seed's parts as any CAR tool sees them once the standard `zstd -d` has decompressed them:
 * read with @ipld/car's own reader, iterator and indexer, every block rehashed with
 * node:crypto, the descriptor's signature checked with node:crypto. Nothing of drcore's reading
 * code is used.
 */
describe('seed parts are standard CARv1 files', () => {
  let work: string
  let hq: OfflineCore
  let seed: SeedCreateResult

  before(async () => {
    work = await tempDir()
    hq = await openOfflineCore('hq', work)
    const machine = new Machine('web01', join(work, 'web01'))
    await machine.create()
    await machine.backup(hq)
    await machine.change()
    await machine.backup(hq)
    seed = await hq.run('seedCreate', { out: join(work, 'seed'), machines: ['web01'], maxSize: '400K' }) as SeedCreateResult
    assert.ok(seed.parts.length >= 3)
    // what a user of standard tools does with a .car.zst part: zstd -d, then any CAR tool
    await decompressParts(seed)
  })
  after(async () => {
    await hq.close()
    await rm(work, { recursive: true, force: true })
  })

  test('each part streams through CarBlockIterator and every block hashes to its CID', async () => {
    let blocks = 0
    for (const part of seed.parts) {
      const iterator = await CarBlockIterator.fromIterable(createReadStream(part.file))
      assert.equal(iterator.version, 1)
      const roots = await iterator.getRoots()
      assert.equal(roots.length, 1)
      let sections = 0
      for await (const { cid, bytes } of iterator) {
        assert.equal(cid.version, 1)
        assert.equal(cid.multihash.code, SHA2_256)
        assert.ok(cid.code === RAW || cid.code === DAG_CBOR, `codec 0x${cid.code.toString(16)}`)
        const digest = createHash('sha256').update(bytes).digest()
        assert.ok(digest.equals(cid.multihash.digest), `block ${cid} does not match its hash`)
        sections++
      }
      assert.equal(sections, part.blocks + 2, 'data blocks plus the two descriptors')
      blocks += part.blocks
    }
    assert.equal(blocks, seed.blocks)
  })

  test('the root of each part is its descriptor, linking the signed seed descriptor in the same file', async () => {
    for (const part of seed.parts) {
      const reader = await CarReader.fromBytes(await readFile(part.file))
      const [root] = await reader.getRoots()
      assert.equal(root.code, DAG_CBOR)
      const rootBlock = await reader.get(root)
      assert.ok(rootBlock, 'the root block is in the part')
      const descriptor = dagCbor.decode<any>(rootBlock.bytes)
      assert.equal(descriptor.format, 'drcore-seed-part')
      assert.equal(descriptor.part, part.part)
      assert.equal(descriptor.blocks, part.blocks)
      const seedCid = CID.asCID(descriptor.seed)
      assert.ok(seedCid)
      assert.equal(seedCid.toString(), seed.seed)
      const seedBlock = await reader.get(seedCid)
      assert.ok(seedBlock, 'the seed descriptor is in every part')
      const { descriptor: d, signature } = dagCbor.decode<any>(seedBlock.bytes)
      assert.equal(d.format, 'drcore-seed')
      assert.equal(d.parts, seed.parts.length)
      assert.equal(d.source, hq.peerId)
      assert.equal(d.points.length, 2)
      assert.ok(verify(null, dagCbor.encode(d), publicKeyOf(d.source), signature), 'signed by the source Core')
    }
  })

  test('the indexer finds sections end to end, with nothing after the last', async () => {
    for (const part of seed.parts) {
      const indexer = await CarIndexer.fromIterable(createReadStream(part.file))
      let end = 0
      for await (const entry of indexer) {
        assert.ok(entry.offset >= end)
        end = entry.blockOffset + entry.blockLength
      }
      assert.equal(end, (await stat(part.file)).size)
    }
  })
})
