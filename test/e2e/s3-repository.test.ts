/**
 * A repository whose packs live in an S3 bucket, end to end against a real S3 store (OpenStack
 * Swift's s3api on 127.0.0.1, test/support/swift.ts): the real CLI on real data, a replication
 * whose target stores in S3, index rebuild from the bucket alone, kill -9 during an upload, a
 * storm of 503 SlowDown, a second Core on the same prefix, wrong credentials.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, request } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { buildExt4Image, checkRealDataTools, compareFiles, compareTrees, copyCorpus } from '../helpers/real-data.ts'
import type { Corpus } from '../helpers/real-data.ts'
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { BIN, drcore, startCore } from '../support/daemon.ts'
import { removeDir, tempDir } from '../support/dirs.ts'
import { newRepository, pair, TestCore } from '../support/core.ts'
import { startSwift, swiftUnavailable } from '../support/swift.ts'
import type { Swift } from '../support/swift.ts'
import { waitFor } from '../support/wait.ts'

const skip = await swiftUnavailable()
if (skip !== undefined) console.log(`# S3 repository tests skipped: ${skip}`)

let swift: Swift
let work: string
let corpus: Corpus
let image: string

before(async () => {
  work = await tempDir('drcore-s3-e2e-')
  if (skip !== undefined) return
  await checkRealDataTools()
  const started = startSwift()
  // real data nobody here wrote: several system directories, and an ext4 image built from them
  corpus = await copyCorpus(join(work, 'corpus'), [
    { path: '/usr/share/perl', maxBytes: 3_000_000 },
    { path: '/usr/include', maxBytes: 2_000_000 },
    { path: '/etc' },
    { path: '/usr/lib/python3', maxBytes: 3_000_000 }
  ])
  image = join(work, 'disk.img')
  await buildExt4Image(corpus, image)
  swift = await started
  await swift.createBucket('drcore')
}, { timeout: 600_000 })

after(async () => {
  await swift?.stop()
  await removeDir(work)
}, { timeout: 60_000 })

async function cli (args: string[], env: Record<string, string> = {}): Promise<{ code: number, stdout: string, stderr: string }> {
  return await drcore(args, { env: { ...swift.env, ...env }, timeoutMs: 300_000 })
}

async function ok (args: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await cli(args, env)
  assert.equal(r.code, 0, `drcore ${args.join(' ')}: ${r.stderr}${r.stdout}`)
  return r.stdout
}

async function s3Repo (name: string, endpoint = swift.endpoint): Promise<string> {
  const repo = join(work, name)
  await ok(['init', '--repo', repo, '--storage', `s3://drcore/cores/${name}`, '--s3-endpoint', endpoint, '--s3-path-style', '--api-port', '0', '--listen', '/ip4/127.0.0.1/tcp/0'])
  return repo
}

/** A repository made for an in-process TestCore, its packs under cores/NAME in the bucket (credentials from the environment). */
async function s3TestRepository (name: string): Promise<string> {
  for (const [k, v] of Object.entries(swift.env)) process.env[k] = v
  const repo = await newRepository(join(work, name), name)
  const config = JSON.parse(await readFile(join(repo, 'config.json'), 'utf8'))
  config.storage = { type: 's3', bucket: 'drcore', prefix: `cores/${name}`, endpoint: swift.endpoint, pathStyle: true }
  await writeFile(join(repo, 'config.json'), JSON.stringify(config))
  return repo
}

/**
 * A proxy in front of Swift: `intercept` answers a request itself (true) or lets it through,
 * after `delayMs(req)` milliseconds.
 */
async function startProxy (options: { intercept?: (req: IncomingMessage, res: ServerResponse) => boolean, delayMs?: (req: IncomingMessage) => number }): Promise<{ endpoint: string, close: () => Promise<void> }> {
  const target = new URL(swift.endpoint)
  const proxy: Server = createServer((req, res) => {
    if (options.intercept?.(req, res) === true) return
    setTimeout(() => {
      const upstream = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers)
        up.pipe(res)
      })
      upstream.on('error', () => res.destroy())
      req.pipe(upstream)
    }, options.delayMs?.(req) ?? 0)
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  return {
    endpoint: `http://127.0.0.1:${(proxy.address() as { port: number }).port}`,
    close: async () => {
      proxy.closeAllConnections()
      await new Promise((resolve) => proxy.close(resolve))
    }
  }
}

describe('a repository with its packs in S3', { timeout: 1_200_000, skip }, () => {
  let repo: string

  it('backs up real data, verifies, restores it byte for byte, and status names the bucket and its requests', async () => {
    repo = await s3Repo('main')
    const config = JSON.parse(await readFile(join(repo, 'config.json'), 'utf8'))
    assert.deepEqual(config.storage, { type: 's3', bucket: 'drcore', prefix: 'cores/main', endpoint: swift.endpoint, pathStyle: true })
    assert.doesNotMatch(JSON.stringify(config), /testing|tester/, 'no credentials in config.json')
    await ok(['backup', '--repo', repo, 'files', corpus.dir])
    await ok(['backup', '--repo', repo, 'vm', image])
    assert.match(await ok(['verify', '--repo', repo]), /ok\n$/)
    const packs = (await swift.keys('drcore', 'cores/main')).filter((k) => k.endsWith('.pack'))
    assert.ok(packs.length >= 2, packs.join(' '))

    const out = join(work, 'restored')
    await ok(['restore', '--repo', repo, 'files', join(out, 'files')])
    assert.deepEqual(await compareTrees(corpus.dir, join(out, 'files', 'corpus')), [])
    await ok(['restore', '--repo', repo, 'vm', join(out, 'vm')])
    assert.equal(await compareFiles(image, join(out, 'vm', 'disk.img')), undefined)
    await rm(out, { recursive: true, force: true })

    const status = await ok(['status', '--repo', repo])
    assert.match(status, new RegExp(`Packs in   s3://drcore/cores/main: ${packs.length} objects, .* requests, 0 errors`))
  })

  it('seed create from it and seed consume into another S3 repository carry its point whole', async () => {
    const id = JSON.parse(await ok(['id', '--repo', repo, '--json'])).peerId
    const target = await s3Repo('seeded')
    await ok(['peer', 'allow', id, '--name', 'main', '--tenant', 'main', '--repo', target])
    const seedDir = join(work, 'seed')
    await ok(['seed', 'create', '--repo', repo, '--out', seedDir, '--machines', 'files'])
    await ok(['seed', 'consume', seedDir, '--repo', target])
    await rm(seedDir, { recursive: true, force: true })
    assert.match(await ok(['verify', '--repo', target]), /0 corrupt, 0 missing.*\nok\n$/s)
    const points = JSON.parse(await ok(['points', '--repo', target, 'main/files', '--json']))
    assert.equal(points.length, 1)
    assert.equal(points[0].complete, true)
    assert.ok((await swift.keys('drcore', 'cores/seeded')).some((k) => k.endsWith('.pack')))
  })

  it('a second Core pointed at the same prefix is refused in one line', async () => {
    const other = await newRepository(join(work, 'other'), 'other')
    const config = JSON.parse(await readFile(join(other, 'config.json'), 'utf8'))
    config.storage = JSON.parse(await readFile(join(repo, 'config.json'), 'utf8')).storage
    await writeFile(join(other, 'config.json'), JSON.stringify(config))
    // a daemon holds the lock while it runs
    const daemon = await startCore(repo, { env: swift.env, timeoutMs: 180_000 })
    try {
      const r = await cli(['verify', '--repo', other])
      assert.equal(r.code, 1)
      assert.match(r.stderr, /^drcore: s3:\/\/drcore\/cores\/main is in use by Core 12D3Koo\w+ on .*one Core writes one prefix; give this Core another prefix\n$/)
    } finally {
      await daemon.stop()
    }
  })

  it('wrong credentials and a missing bucket are one line naming the bucket', async () => {
    const r = await cli(['verify', '--repo', repo], { AWS_SECRET_ACCESS_KEY: 'wrong' })
    assert.equal(r.code, 1)
    assert.match(r.stderr, /^drcore: the object store at http:\/\/127\.0\.0\.1:\d+ refused the credentials for bucket drcore .*\n$/)
    const m = await cli(['init', '--repo', join(work, 'nobucket'), '--storage', 's3://missing-bucket/x', '--s3-endpoint', swift.endpoint, '--s3-path-style'])
    assert.equal(m.code, 1)
    assert.equal(m.stderr, `drcore: bucket missing-bucket does not exist at ${swift.endpoint}: create it, or point --storage at an existing bucket\n`)
  })

  it('index rebuild: a Core that lost its index rebuilds it from the bucket alone, with its points, and verifies', async () => {
    const before = await ok(['status', '--repo', repo, '--json'])
    const points = async (): Promise<string[]> => [
      ...JSON.parse(await ok(['points', '--repo', repo, 'files', '--json'])),
      ...JSON.parse(await ok(['points', '--repo', repo, 'vm', '--json']))
    ].map((p: { point: string }) => p.point).sort()
    const pointsBefore = await points()
    assert.equal(pointsBefore.length, 2)
    await rm(join(repo, 'index'), { recursive: true, force: true })
    const out = await ok(['index', 'rebuild', '--repo', repo])
    const blocks = JSON.parse(before).repository.blocks
    assert.match(out, new RegExp(`index rebuilt from \\d+ packs: ${blocks} blocks; 2 of this Core's points recorded again from their manifests`))
    assert.match(out, new RegExp(`${blocks} blocks checked: 0 corrupt, 0 missing\\nok\\n$`))
    assert.deepEqual(await points(), pointsBefore)
  })

  it('kill -9 during a multipart upload: the next start aborts it, and nothing indexed points at a missing object', async () => {
    const big = join(work, 'big')
    await mkdir(big)
    // incompressible: each flush of the backup (8 MiB) makes a pack larger than a part, set to
    // S3's smallest (5 MiB) for this repository
    await writeFile(join(big, 'random.bin'), randomBytes(20 * 1024 * 1024))
    // each part takes a second to go up: the kill lands while the upload is in flight
    const slow = await startProxy({ delayMs: (req) => req.method === 'PUT' && (req.url ?? '').includes('uploadId=') ? 1000 : 0 })
    try {
      const killed = await s3Repo('killed', slow.endpoint)
      const configPath = join(killed, 'config.json')
      const config = JSON.parse(await readFile(configPath, 'utf8'))
      await writeFile(configPath, JSON.stringify({ ...config, storage: { ...config.storage, partBytes: 5 * 1024 * 1024 } }))
      await ok(['backup', '--repo', killed, 'etc', join(corpus.dir, 'etc')])
      const child = spawn(process.execPath, [BIN, 'backup', '--repo', killed, 'big', big], { env: { ...process.env, ...swift.env }, stdio: 'ignore' })
      const exited = new Promise((resolve) => child.once('exit', resolve))
      try {
        await waitFor('a multipart upload in flight', async () => await swift.uploads('drcore', 'cores/killed'), (u) => u.length > 0, 120_000, 50)
      } finally {
        child.kill('SIGKILL')
        await exited
      }
      assert.ok((await swift.uploads('drcore', 'cores/killed')).length > 0)
      assert.match(await ok(['verify', '--repo', killed]), /0 corrupt, 0 missing.*\nok\n$/s)
      assert.deepEqual(await swift.uploads('drcore', 'cores/killed'), [])
      // the point was never committed; the one before it is whole
      assert.deepEqual(JSON.parse(await ok(['machines', '--repo', killed, '--json'])).map((m: { machine: string }) => m.machine), ['etc'])
    } finally {
      await slow.close()
    }
  })

  it('forget and prune: the objects of blocks no point needs are deleted from the bucket, the rest verifies', async () => {
    const packs = async (): Promise<string[]> => (await swift.keys('drcore', 'cores/main')).filter((k) => k.endsWith('.pack'))
    const data = join(work, 'big')
    await ok(['backup', '--repo', repo, 'big', data])
    await rm(data, { recursive: true })
    const before = await packs()
    const [big] = JSON.parse(await ok(['points', '--repo', repo, 'big', '--json'])).map((p: { point: string }) => p.point)
    // forget the point as the retention policy would (the record goes; its blocks stay until prune)
    for (const [k, v] of Object.entries(swift.env)) process.env[k] = v
    const { openServices, closeServices } = await import('../../src/core/index.ts')
    const services = await openServices(repo)
    try {
      await services.points.remove(big, '')
    } finally {
      await closeServices(services)
    }
    await ok(['prune', '--repo', repo])
    const after = await packs()
    assert.ok(after.length < before.length, `the big point's pack is deleted: ${before.length} -> ${after.length}`)
    assert.match(await ok(['verify', '--repo', repo]), /0 corrupt, 0 missing.*\nok\n$/s)
  })

  it('a pack damaged in the bucket: verify names the damaged blocks, and a backup of the same data heals them', async () => {
    const packs = (await swift.keys('drcore', 'cores/main')).filter((k) => k.endsWith('.pack'))
    // flip bytes in the middle of every pack object, as bit rot in the store would
    for (const key of packs) {
      const out = await swift.client.send(new GetObjectCommand({ Bucket: 'drcore', Key: key }))
      const bytes = Buffer.from(await out.Body!.transformToByteArray())
      bytes[bytes.length >> 1] ^= 0xff
      await swift.client.send(new PutObjectCommand({ Bucket: 'drcore', Key: key, Body: bytes }))
    }
    const damaged = await cli(['verify', '--repo', repo])
    assert.equal(damaged.code, 1)
    assert.match(damaged.stdout, /[1-9]\d* corrupt/)
    assert.match(damaged.stdout, /^corrupt block b\w+$/m)
    await ok(['backup', '--repo', repo, 'files', corpus.dir])
    await ok(['backup', '--repo', repo, 'vm', image])
    assert.match(await ok(['verify', '--repo', repo]), /0 corrupt, 0 missing.*\nok\n$/s)
  })

  it('a storm of 503 SlowDown is ridden out with backoff: backup and verify succeed, status counts the retries', async () => {
    let refused = 0
    let n = 0
    // every third request is throttled the way S3 does it
    const proxy = await startProxy({
      intercept: (req, res) => {
        if (n++ % 3 !== 0) return false
        refused++
        req.resume()
        res.writeHead(503, { 'content-type': 'application/xml' })
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>')
        return true
      }
    })
    try {
      const stormy = await s3Repo('stormy', proxy.endpoint)
      await ok(['backup', '--repo', stormy, 'etc', join(corpus.dir, 'etc')])
      assert.match(await ok(['verify', '--repo', stormy]), /ok\n$/)
      assert.ok(refused > 5, `throttled ${refused} requests`)
      const status = JSON.parse(await ok(['status', '--repo', stormy, '--json']))
      assert.ok(status.repository.objectStore.retries > 0, JSON.stringify(status.repository.objectStore))
    } finally {
      await proxy.close()
    }
  })
})

describe('replication into a Core that stores in S3', { timeout: 300_000, skip }, () => {
  it('the target stores the point in its bucket and verifies it', async () => {
    const targetRepo = await s3TestRepository('target')
    const a = await TestCore.create('a')
    const b = await TestCore.open(targetRepo, 'target')
    try {
      await pair(a, b, { tenant: 'a' })
      await a.backup('web01', join(corpus.dir, 'usr-share-perl'))
      await a.addRule('web01', b)
      assert.equal((await a.replicateNow('web01', b)).pointsBehind, 0)
      assert.ok((await swift.keys('drcore', 'cores/target')).some((k) => k.endsWith('.pack')))
      assert.equal(((await b.core.run('verify', {})) as { ok: boolean }).ok, true)
    } finally {
      await b.stop()
      await a.destroy()
    }
  })
})

describe('replication out of a Core that stores in S3, and repair from its replica', { timeout: 300_000, skip }, () => {
  it('the point leaves the bucket whole; after bit rot in the bucket, repair --from the replica makes it whole again', async () => {
    const sourceRepo = await s3TestRepository('source-out')
    let a = await TestCore.open(sourceRepo, 'source-out')
    const b = await TestCore.create('replica')
    try {
      await pair(a, b, { tenant: 'source-out' })
      await a.backup('web02', join(corpus.dir, 'usr-share-perl'))
      await a.addRule('web02', b)
      assert.equal((await a.replicateNow('web02', b)).pointsBehind, 0)
      assert.equal(((await b.core.run('verify', {})) as { ok: boolean }).ok, true)

      const packs = (await swift.keys('drcore', 'cores/source-out')).filter((k) => k.endsWith('.pack'))
      assert.ok(packs.length > 0)
      for (const key of packs) {
        const out = await swift.client.send(new GetObjectCommand({ Bucket: 'drcore', Key: key }))
        const bytes = Buffer.from(await out.Body!.transformToByteArray())
        bytes[bytes.length >> 1] ^= 0xff
        await swift.client.send(new PutObjectCommand({ Bucket: 'drcore', Key: key, Body: bytes }))
      }
      // a fresh process reads the bucket, not what this one cached
      await a.stop()
      a = await TestCore.open(sourceRepo, 'source-out')
      const damaged = (await a.core.run('verify', {})) as { ok: boolean, corrupt: string[] }
      assert.equal(damaged.ok, false)
      assert.ok(damaged.corrupt.length > 0)
      const report = (await a.run('repair', { from: b.peerId })) as { points: Array<{ state: string }>, fetched: number }
      assert.ok(report.fetched >= damaged.corrupt.length, `the damaged blocks came back from the replica (${report.fetched} blocks)`)
      assert.ok(report.points.every((p) => p.state === 'whole'), JSON.stringify(report.points))
      assert.equal(((await a.core.run('verify', {})) as { ok: boolean }).ok, true)
    } finally {
      await b.destroy()
      await a.stop()
    }
  })
})
