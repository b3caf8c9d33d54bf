/**
 * Section `s3`: backup and restore of the image corpus into a repository whose packs live in an
 * S3 bucket, against the same into a repository on local disk, in the same run; each beside the
 * store's raw PUT and GET throughput for the same bytes (the limit of the store on this machine).
 *
 * The store is OpenStack Swift with its s3api layer on 127.0.0.1 (shared/tools/swift-s3.sh),
 * its objects on the same disk as the local repository. restic is not the anchor: restic 0.14's
 * S3 client sends aws-chunked uploads over plain HTTP, which Swift 2.30 refuses.
 */
import { execFileSync } from 'node:child_process'
import { createReadStream, existsSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import path from 'node:path'
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { DRCORE_JS, NODE_BIN, REPO_ROOT, resetDir, run, timed } from './lib.ts'
import type { BenchContext, BenchSection, Row, SectionResult } from './lib.ts'
import { imageCorpus } from './corpora.ts'

const GiB = 2 ** 30
const MiB = 2 ** 20
const FILL = 0.65
const SOURCES = ['/usr/lib', '/usr/share']
const PART = 16 * MiB
const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'test:tester', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1' }

const SCRIPT = [path.join(REPO_ROOT, '..', 'shared', 'tools', 'swift-s3.sh'), '/work/shared/tools/swift-s3.sh'].find(existsSync)

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

async function run_ (ctx: BenchContext): Promise<SectionResult> {
  if (SCRIPT === undefined) throw new Error('shared/tools/swift-s3.sh is not beside the repository')
  const image = await imageCorpus(path.join(ctx.work, ctx.mode === 'quick' ? 'corpora-quick' : 'corpora'),
    ctx.mode === 'quick' ? 'image-128m' : 'image-1g', ctx.mode === 'quick' ? 128 * MiB : GiB, FILL, SOURCES, ctx.log)
  const base = path.join(ctx.work, 's3')
  resetDir(base)
  await mkdir(base, { recursive: true })
  const data = path.join(base, 'swift')
  const port = await freePort()
  const swiftEnv = { ...process.env, SWIFT_S3_PORT: String(port), SWIFT_BACKEND_PORT: String(await freePort()), SWIFT_LOG_LEVEL: 'WARNING', SWIFT_START_TIMEOUT: '300' }
  ctx.log(`starting Swift (s3api) on 127.0.0.1:${port}`)
  await run('bash', [SCRIPT, 'start', data], { env: swiftEnv })
  const endpoint = `http://127.0.0.1:${port}`
  const env = { ...process.env, ...CREDENTIALS }
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: CREDENTIALS.AWS_ACCESS_KEY_ID, secretAccessKey: CREDENTIALS.AWS_SECRET_ACCESS_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED'
  })
  try {
    await client.send(new CreateBucketCommand({ Bucket: 'bench' }))
    const drcore = async (args: string[]): Promise<number> => {
      execFileSync('sync')
      const t = await timed(NODE_BIN, [DRCORE_JS, ...args], { env })
      return t.wallSeconds
    }
    const results: Record<string, { backup: number, restore: number }> = {}
    for (const where of ['local', 's3'] as const) {
      const repo = path.join(base, `repo-${where}`)
      const storage = where === 's3' ? ['--storage', 's3://bench/drcore', '--s3-endpoint', endpoint, '--s3-path-style'] : []
      await run(NODE_BIN, [DRCORE_JS, 'init', '--repo', repo, ...storage], { env })
      const backup = await drcore(['backup', '--repo', repo, 'img', `disk=${image.path}`])
      const dest = path.join(base, `restore-${where}`)
      const restore = await drcore(['restore', '--repo', repo, 'img', dest])
      await rm(dest, { recursive: true, force: true })
      results[where] = { backup, restore }
      ctx.log(`${where}: backup ${backup.toFixed(1)} s, restore ${restore.toFixed(1)} s`)
    }

    // the store's own limit: the same bytes up in 16 MiB parts four at a time (as drcore uploads a
    // large pack), then down in ranged GETs of 16 MiB, four at a time
    execFileSync('sync')
    let t0 = performance.now()
    await new Upload({ client, params: { Bucket: 'bench', Key: 'raw/image', Body: createReadStream(image.path) }, partSize: PART, queueSize: 4 }).done()
    const rawPut = (performance.now() - t0) / 1000
    t0 = performance.now()
    const ranges: number[] = []
    for (let start = 0; start < image.sizeBytes; start += PART) ranges.push(start)
    for (let i = 0; i < ranges.length; i += 4) {
      await Promise.all(ranges.slice(i, i + 4).map(async (start) => {
        const out = await client.send(new GetObjectCommand({ Bucket: 'bench', Key: 'raw/image', Range: `bytes=${start}-${Math.min(image.sizeBytes, start + PART) - 1}` }))
        await out.Body!.transformToByteArray()
      }))
    }
    const rawGet = (performance.now() - t0) / 1000
    const bytes = image.sizeBytes
    const rate = (seconds: number): number => bytes / seconds
    const rows: Row[] = [
      { metric: 'backup of the image to S3 vs to local disk (image bytes / time)', unit: 'bytes/s', drcore: rate(results.s3.backup), anchor: { name: 'drcore local', value: rate(results.local.backup) }, target: { kind: 'ratio-min', value: 0.8 } },
      { metric: 'restore of the image from S3 vs from local disk', unit: 'bytes/s', drcore: rate(results.s3.restore), anchor: { name: 'drcore local', value: rate(results.local.restore) }, target: { kind: 'ratio-min', value: 0.8 } },
      { metric: 'backup to S3 vs the store\'s raw PUT of the same bytes', unit: 'bytes/s', drcore: rate(results.s3.backup), anchor: { name: 'raw PUT', value: rate(rawPut) } },
      { metric: 'restore from S3 vs the store\'s raw GET of the same bytes', unit: 'bytes/s', drcore: rate(results.s3.restore), anchor: { name: 'raw GET', value: rate(rawGet) } }
    ]
    return {
      rows,
      details: { image, seconds: results, rawPutSeconds: rawPut, rawGetSeconds: rawGet, endpoint: 'Swift s3api on 127.0.0.1' },
      notes: [
        'the store is OpenStack Swift (s3api) on 127.0.0.1, on the same disk as the local repository: both compete for it',
        'restic is not measured here: restic 0.14 sends aws-chunked uploads over plain HTTP, which Swift 2.30 refuses'
      ]
    }
  } finally {
    client.destroy()
    await run('bash', [SCRIPT, 'stop', data], { env: swiftEnv }).catch(() => {})
    await rm(data, { recursive: true, force: true })
  }
}

export const section: BenchSection = {
  name: 's3',
  title: 'backup and restore with the packs in an S3 bucket (Swift s3api), vs local disk and the store\'s raw PUT/GET',
  tools: [{ bin: 'python3', pkg: 'python3' }, { bin: 'swift-proxy-server', pkg: 'swift-proxy' }],
  run: run_
}
