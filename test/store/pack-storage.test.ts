/**
 * The pack storage contract (src/store/storage.ts), run against both implementations: local
 * files and an S3 bucket on a real S3 store (OpenStack Swift's s3api, test/support/swift.ts).
 * Then the block store on S3: what it indexes is in the bucket, a reopen reads it back, and a
 * garbage collection deletes and rewrites objects.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Level } from 'level'
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { zstdCompressSync } from 'node:zlib'
import * as raw from 'multiformats/codecs/raw'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { proveStored } from '../../src/store/block-codec.ts'
import { encoderCounts } from '../../src/store/compression.ts'
import { FLAG_ZSTD } from '../../src/store/pack-format.ts'
import { localPackStorage, openBlockStore, openS3PackStorage } from '../../src/store/index.ts'
import type { PackStorage, RootDb } from '../../src/store/index.ts'
import { readFully } from '../../src/store/pack-files.ts'
import { PART_SIZE } from '../../src/store/s3/storage.ts'
import { SEGMENT_SIZE } from '../../src/store/s3/cache.ts'
import { removeDir, tempDir } from '../support/dirs.ts'
import { startSwift, swiftUnavailable } from '../support/swift.ts'
import type { Swift } from '../support/swift.ts'

const skip = await swiftUnavailable()
if (skip !== undefined) console.log(`# S3 pack storage tests skipped: ${skip}`)

let swift: Swift
let work: string
let bucketCount = 0

before(async () => {
  work = await tempDir('drcore-pack-storage-')
  if (skip === undefined) swift = await startSwift()
}, { timeout: 600_000 })

after(async () => {
  await swift?.stop()
  await removeDir(work)
}, { timeout: 60_000 })

type Kind = 'local' | 's3'

async function openStorage (kind: Kind, name: string, owner = 'core-a'): Promise<{ storage: PackStorage, bucket: string, prefix: string }> {
  const staging = join(work, name, 'staging')
  if (kind === 'local') {
    await mkdir(join(work, name, 'packs'), { recursive: true })
    return { storage: localPackStorage(join(work, name, 'packs')), bucket: '', prefix: '' }
  }
  const bucket = `bucket-${++bucketCount}`
  await swift.createBucket(bucket)
  return { storage: await reopenS3(bucket, `repos/${name}`, staging, owner), bucket, prefix: `repos/${name}` }
}

async function reopenS3 (bucket: string, prefix: string, stagingDir: string, owner = 'core-a', extra: Record<string, unknown> = {}): Promise<PackStorage> {
  for (const [k, v] of Object.entries(swift.env)) process.env[k] = v
  return await openS3PackStorage({ type: 's3', bucket, prefix, endpoint: swift.endpoint, pathStyle: true, stagingDir, owner, ...extra })
}

/** Writes `bytes` as pack `name` and seals it. */
async function writePack (storage: PackStorage, name: string, parts: Uint8Array[]): Promise<string> {
  const path = `${storage.location}/${name}`
  const handle = await storage.openFile(path, 'wx')
  let position = 0
  for (const part of parts) {
    await handle.writev([part], position)
    position += part.length
  }
  await handle.datasync()
  await handle.close()
  return path
}

for (const kind of ['local', 's3'] as Kind[]) {
  describe(`pack storage contract: ${kind}`, { timeout: 120_000, skip: kind === 's3' ? skip : undefined }, () => {
    it('a sealed pack reads back byte for byte at any range, and reads past its end come up short', async () => {
      const { storage } = await openStorage(kind, `${kind}-ranges`)
      try {
        // incompressible, never repeating, across several cache segments
        const bytes = randomBytes(2 * SEGMENT_SIZE + 12345)
        const path = await writePack(storage, '00000001.pack', [bytes.subarray(0, 1000), bytes.subarray(1000)])
        const handle = await storage.openFile(path, 'r')
        for (const [position, length] of [[0, 8], [SEGMENT_SIZE - 10, 20], [123, SEGMENT_SIZE * 2], [bytes.length - 5, 5]]) {
          assert.ok((await readFully(handle, position, length)).equals(bytes.subarray(position, position + length)), `range ${position}+${length}`)
        }
        assert.equal((await readFully(handle, bytes.length - 3, 10)).length, 3)
        assert.equal((await readFully(handle, bytes.length + 10, 10)).length, 0)
        await handle.close()
        assert.equal(await storage.directory.size(path), bytes.length)
      } finally {
        await storage.close()
      }
    })

    it('a buffer the caller overwrites after writev resolves does not change what was sealed', async () => {
      const { storage } = await openStorage(kind, `${kind}-reuse`)
      try {
        const buffer = randomBytes(100_000)
        const expected = Buffer.from(buffer)
        const path = `${storage.location}/00000001.pack`
        const handle = await storage.openFile(path, 'wx')
        await handle.writev([buffer], 0)
        buffer.fill(0xaa)
        await handle.datasync()
        await handle.close()
        const reader = await storage.openFile(path, 'r')
        assert.ok((await readFully(reader, 0, expected.length)).equals(expected))
        await reader.close()
      } finally {
        await storage.close()
      }
    })

    it('lists packs, deletes them, and a deleted pack does not open (ENOENT)', async () => {
      const { storage } = await openStorage(kind, `${kind}-list`)
      try {
        await writePack(storage, '00000001.pack', [randomBytes(100)])
        const two = await writePack(storage, '00000002.pack', [randomBytes(200)])
        const packs = (await storage.directory.readdir(storage.location)).filter((n) => n.endsWith('.pack')).sort()
        assert.deepEqual(packs, ['00000001.pack', '00000002.pack'])
        await storage.directory.unlink(two)
        await storage.directory.sync(storage.location)
        assert.deepEqual((await storage.directory.readdir(storage.location)).filter((n) => n.endsWith('.pack')), ['00000001.pack'])
        await assert.rejects(storage.openFile(two, 'r'), { code: 'ENOENT' })
      } finally {
        await storage.close()
      }
    })

    it('a pack opened r+ is cut back to a length, and reads end there', async () => {
      const { storage } = await openStorage(kind, `${kind}-truncate`)
      try {
        const bytes = randomBytes(50_000)
        const path = await writePack(storage, '00000001.pack', [bytes])
        const handle = await storage.openFile(path, 'r+')
        await handle.truncate(20_000)
        await handle.close()
        assert.equal(await storage.directory.size(path), 20_000)
        const reader = await storage.openFile(path, 'r')
        assert.ok((await readFully(reader, 0, 50_000)).equals(bytes.subarray(0, 20_000)))
        await reader.close()
      } finally {
        await storage.close()
      }
    })
  })
}

describe('S3 pack storage', { timeout: 300_000, skip }, () => {
  it('a pack larger than a part goes up as a multipart upload and reads back whole', async () => {
    const { storage, bucket, prefix } = await openStorage('s3', 's3-multipart')
    try {
      const bytes = randomBytes(PART_SIZE * 2 + 777)
      await writePack(storage, '00000001.pack', [bytes])
      assert.deepEqual(await swift.uploads(bucket, prefix), [])
      const handle = await storage.openFile(`${storage.location}/00000001.pack`, 'r')
      assert.ok((await readFully(handle, 0, bytes.length)).equals(bytes))
      await handle.close()
      const usage = storage.usage()!
      assert.ok(usage.bytesUploaded >= bytes.length && usage.bytesDownloaded >= bytes.length, JSON.stringify(usage))
    } finally {
      await storage.close()
    }
  })

  it('a second Core on the same prefix is refused with one line naming the holder; the same Core takes its lock back', async () => {
    const { storage, bucket, prefix } = await openStorage('s3', 's3-lock', 'core-a')
    try {
      await assert.rejects(reopenS3(bucket, prefix, join(work, 'lock-b'), 'core-b'), (err: Error) => {
        assert.equal(err.name, 'PrefixLockedError')
        assert.match(err.message, /^s3:\/\/bucket-\d+\/repos\/s3-lock is in use by Core core-a on .*one Core writes one prefix/)
        assert.doesNotMatch(err.message, /\n/)
        return true
      })
      // a restart after a crash: the lock is still there, and it is this Core's
      const again = await reopenS3(bucket, prefix, join(work, 'lock-a2'), 'core-a')
      await again.close()
    } finally {
      await storage.close()
    }
    assert.ok(!(await swift.keys(bucket, prefix)).includes(`${prefix}/lock.json`), 'close releases the lock')
    const b = await reopenS3(bucket, prefix, join(work, 'lock-b'), 'core-b')
    await b.close()
  })

  it('the lock is renewed while the storage is open; a lock not renewed for 5 minutes is taken over', async () => {
    const { storage, bucket, prefix } = await openStorage('s3', 's3-renew', 'core-a')
    await storage.close()
    const key = `${prefix}/lock.json`
    const read = async (): Promise<{ peer: string, renewed: string }> => JSON.parse(await (await swift.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString())
    const renewing = await reopenS3(bucket, prefix, join(work, 'renew-a'), 'core-a', { lockRenewMs: 200 })
    try {
      const first = await read()
      await new Promise((resolve) => setTimeout(resolve, 1500))
      const later = await read()
      assert.equal(later.peer, 'core-a')
      assert.ok(Date.parse(later.renewed) > Date.parse(first.renewed), `${first.renewed} -> ${later.renewed}`)
    } finally {
      await renewing.close()
    }
    // a Core that died 10 minutes ago left its lock: another Core may take the prefix
    await swift.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify({ peer: 'core-gone', host: 'h', pid: 1, renewed: new Date(Date.now() - 10 * 60_000).toISOString() }) }))
    const taker = await reopenS3(bucket, prefix, join(work, 'renew-b'), 'core-b')
    try {
      assert.equal((await read()).peer, 'core-b')
    } finally {
      await taker.close()
    }
  })

  it('wrong credentials, a missing bucket and an endpoint that does not answer are one line naming the bucket', async () => {
    await swift.createBucket('creds')
    const secret = process.env.AWS_SECRET_ACCESS_KEY
    process.env.AWS_SECRET_ACCESS_KEY = 'wrong'
    try {
      await assert.rejects(openS3PackStorage({ type: 's3', bucket: 'creds', prefix: 'p', endpoint: swift.endpoint, pathStyle: true, stagingDir: join(work, 'c'), owner: 'x' }),
        /^ObjectStoreError: the object store at http:\/\/127\.0\.0\.1:\d+ refused the credentials for bucket creds .*check AWS_ACCESS_KEY_ID/)
    } finally {
      process.env.AWS_SECRET_ACCESS_KEY = secret
    }
    await assert.rejects(openS3PackStorage({ type: 's3', bucket: 'no-such-bucket', prefix: 'p', endpoint: swift.endpoint, pathStyle: true, stagingDir: join(work, 'c'), owner: 'x' }),
      { name: 'ObjectStoreError', message: `bucket no-such-bucket does not exist at ${swift.endpoint}: create it, or point --storage at an existing bucket` })
    await assert.rejects(openS3PackStorage({ type: 's3', bucket: 'creds', prefix: 'p', endpoint: 'http://127.0.0.1:9', pathStyle: true, stagingDir: join(work, 'c'), owner: 'x', maxAttempts: 2 }),
      { name: 'ObjectStoreError', message: /^cannot reach the object store at http:\/\/127\.0\.0\.1:9 for bucket creds \(ECONNREFUSED\)/ })
  })
})

describe('block store on S3', { timeout: 300_000, skip }, () => {
  let db: RootDb
  let bucket: string
  let prefix: string
  let staging: string

  before(async () => {
    db = new Level(join(work, 'bs-index'))
    await db.open()
    bucket = 'blockstore'
    prefix = 'core'
    staging = join(work, 'bs-staging')
    await swift.createBucket(bucket)
  })
  after(async () => { await db.close() })

  it('indexes a block only once its pack is in the bucket; a reopen reads every block back; prune deletes and rewrites objects', async () => {
    let store = await openBlockStore({ db, storage: await reopenS3(bucket, prefix, staging), limits: { flushBytes: 256 * 1024 } })
    const first: Array<{ cid: any, bytes: Uint8Array }> = []
    const second: typeof first = []
    const writer = store.writer()
    for (let i = 0; i < 40; i++) {
      const bytes = new Uint8Array(randomBytes(20_000 + i))
      first.push({ cid: (await writer.add(raw.code, bytes)).cid, bytes })
    }
    await writer.commit()
    const w2 = store.writer()
    for (let i = 0; i < 40; i++) {
      const bytes = new Uint8Array(randomBytes(30_000 + i))
      second.push({ cid: (await w2.add(raw.code, bytes)).cid, bytes })
    }
    await w2.commit()
    const packs = (await swift.keys(bucket, prefix)).filter((k) => k.endsWith('.pack'))
    const stats = await store.stats()
    assert.equal(stats.packs, packs.length)
    assert.ok(packs.length >= 4, `each flush seals a pack of its own: ${packs.join(' ')}`)
    assert.deepEqual(await import('node:fs/promises').then(async (fs) => (await fs.readdir(staging)).filter((n) => n.endsWith('.pack'))), [], 'no staging file stays once sealed')

    await store.close()
    store = await openBlockStore({ db, storage: await reopenS3(bucket, prefix, staging) })
    for (const b of [...first, ...second]) assert.ok(Buffer.from(await store.get(b.cid)).equals(b.bytes))
    const bad = []
    for await (const r of store.verifyAll()) if (!r.ok) bad.push(r)
    assert.deepEqual(bad, [])

    // keep the second writer's blocks and every other one of the first's
    const keep = [...second, ...first.filter((_, i) => i % 2 === 0)]
    const collection = await store.collect({ hasLinks: () => false, links: () => [] })
    await collection.mark(keep.map((b) => b.cid))
    const plan = await collection.plan({ maxUnused: 0 })
    const result = await collection.sweep(plan)
    await collection.end()
    assert.ok(result.packsRewritten > 0 && result.blocksRemoved === 20, JSON.stringify(result))
    const after = (await swift.keys(bucket, prefix)).filter((k) => k.endsWith('.pack'))
    for (const p of plan.rewrite) assert.ok(!after.some((k) => k.endsWith(`${String(p.pack).padStart(8, '0')}.pack`)), `rewritten pack ${p.pack} is deleted from the bucket`)
    await store.close()
    store = await openBlockStore({ db, storage: await reopenS3(bucket, prefix, staging) })
    try {
      for (const b of keep) assert.ok(Buffer.from(await store.get(b.cid)).equals(b.bytes))
      for (const b of first.filter((_, i) => i % 2 === 1)) assert.equal(await store.has(b.cid), false)
    } finally {
      await store.close()
    }
  })
  it('stores a body proved before (putProved, as seed consume does) in a pack in the bucket as it came, proving it only once', async () => {
    const names = (await readdir('/usr/include')).filter((n) => n.endsWith('.h')).sort().slice(0, 24)
    const blocks = await Promise.all(names.map(async (n) => {
      const bytes = new Uint8Array(await readFile(join('/usr/include', n)))
      const body = new Uint8Array(zstdCompressSync(bytes))
      return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes, body }
    }))
    const index: RootDb = new Level(join(work, 'bs-index-proved'))
    await index.open()
    let store = await openBlockStore({ db: index, storage: await reopenS3(bucket, 'proved', staging) })
    const before = encoderCounts()
    const writer = store.writer()
    for (const b of blocks) {
      const proof = await proveStored(b.cid, { flags: FLAG_ZSTD, body: b.body, rawLength: b.bytes.length })
      assert.ok('proved' in proof, JSON.stringify(proof))
      assert.equal(await writer.putProved(proof.proved), true)
    }
    await writer.commit()
    assert.deepEqual(encoderCounts(), { encoded: before.encoded, proved: before.proved + blocks.length })
    assert.ok((await swift.keys(bucket, 'proved')).some((k) => k.endsWith('.pack')))
    await store.close()
    store = await openBlockStore({ db: index, storage: await reopenS3(bucket, 'proved', staging) })
    try {
      for (const b of blocks) {
        const stored = await store.getStored(b.cid)
        assert.equal(Buffer.from(stored.body).equals(b.body), true, `${b.cid} stored as it came`)
        assert.ok(Buffer.from(await store.get(b.cid)).equals(b.bytes))
      }
    } finally {
      await store.close()
      await index.close()
    }
  })
})
