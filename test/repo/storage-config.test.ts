import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { readConfig } from '../../src/repo/config.ts'
import { parseS3Url } from '../../src/store/index.ts'

describe('config.json "storage" and --storage URLs', { timeout: 10_000 }, () => {
  let dir: string
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'drcore-storage-config-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  const withStorage = async (storage: unknown): Promise<unknown> => {
    await writeFile(join(dir, 'config.json'), JSON.stringify({ version: 1, name: 'x', listen: [], storage }))
    return (await readConfig(dir)).storage
  }

  it('reads an S3 storage as written', async () => {
    const storage = { type: 's3', bucket: 'dr', prefix: 'a/b', endpoint: 'http://127.0.0.1:9000', region: 'eu-west-1', pathStyle: true, cacheBytes: 0 }
    assert.deepEqual(await withStorage(storage), storage)
  })

  it('refuses credentials (or any unknown key) in the storage section, in one line', async () => {
    await assert.rejects(withStorage({ type: 's3', bucket: 'dr', prefix: '', secretAccessKey: 'x' }),
      { name: 'MalformedError', message: `${join(dir, 'config.json')}: "storage" has the unknown key "secretAccessKey" (credentials never go here: the SDK's default chain finds them)` })
  })

  it('refuses an unknown storage type and a missing bucket', async () => {
    await assert.rejects(withStorage({ type: 'gcs', bucket: 'dr', prefix: '' }), /"storage" has type "gcs"; this drcore knows "s3"/)
    await assert.rejects(withStorage({ type: 's3', prefix: '' }), /"storage" needs a "bucket"/)
  })

  it('parses s3://BUCKET/PREFIX and refuses what is not one', () => {
    assert.deepEqual(parseS3Url('s3://dr-packs/cores/hq/'), { bucket: 'dr-packs', prefix: 'cores/hq' })
    assert.deepEqual(parseS3Url('s3://dr-packs'), { bucket: 'dr-packs', prefix: '' })
    assert.throws(() => parseS3Url('/srv/packs'), { name: 'UsageError', message: '--storage /srv/packs: expected s3://BUCKET/PREFIX' })
    assert.throws(() => parseS3Url('s3://Bad_Bucket/x'), /"Bad_Bucket" is not a valid bucket name/)
    assert.throws(() => parseS3Url('s3://dr-packs/a/../b'), /the prefix may not hold empty, "\." or "\.\." parts/)
  })
})
