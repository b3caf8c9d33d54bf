import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { VerifyReport } from '../../src/core/index.ts'
import { walkClosure } from '../../src/points/closure.ts'
import { loadManifest } from '../../src/points/manifest.ts'
import { REPLICATE_PROTOCOL, REPLICATE_PROTOCOL_V2 } from '../../src/protocol/index.ts'
import { tempDir, removeDir } from '../support/dirs.ts'
import { until } from '../support/wait.ts'
import { checkRealDataTools, compareTrees, copyCorpus } from '../helpers/real-data.ts'
import type { Corpus } from '../helpers/real-data.ts'
import { snapshotTree } from '../helpers/tree.ts'
import { TestCore, pair, rule } from '../support/core.ts'
import { RuleStore } from '../../src/rules/index.ts'
import type { RuleRecord } from '../../src/rules/index.ts'
import { jsonSublevel } from '../../src/store/index.ts'

const MiB = 1024 * 1024

/** Blocks and bytes of a point's closure, the manifest aside (what a full transfer sends). */
async function closureOf (core: TestCore, point: string): Promise<{ blocks: number, bytes: number }> {
  const signed = await loadManifest(core.core.store, point)
  let blocks = 0
  let bytes = 0
  for await (const cid of walkClosure(core.core.store, signed)) {
    if (cid.equals(signed.id)) continue
    blocks++
    bytes += (await core.core.store.size(cid))!
  }
  return { blocks, bytes }
}

async function assertVerifies (core: TestCore): Promise<void> {
  const report = await core.run('verify', {}) as VerifyReport
  assert.equal(report.ok, true, `${core.name} verifies with a full rehash: ${JSON.stringify(report).slice(0, 300)}`)
}

async function assertRestores (core: TestCore, machine: string, expected: string, dest: string): Promise<void> {
  await core.core.run('restore', { machine, dest })
  assert.deepEqual(await compareTrees(expected, join(dest, 'data')), [], `${core.name} restores ${machine} byte for byte`)
}

/** Replicate streams a Core opened or served so far, by protocol. */
function streamsOf (core: TestCore, protocol: string): number {
  return core.engine.metrics.streams[protocol] ?? 0
}

/**
 * `--streams N`: a job sends each point's blocks over up to N replicate streams on the one
 * connection, the delta shared out among them, the rate limit their total, and the point
 * committed by one stream once the others' blocks are durable (docs/protocol.md, "Parallel
 * streams"). Real data: copies of system directories.
 */
describe('a rule with --streams sends a point over several streams', { timeout: 300_000 }, () => {
  let work: string
  let corpus: Corpus
  /** the source with the engine's default batches */
  let a: TestCore
  /** a source asking "have?" 32 blocks at a time, so a few MiB of data make many shares */
  let small: TestCore
  let b: TestCore
  let old: TestCore
  let point: string

  before(async () => {
    await checkRealDataTools()
    work = await tempDir('drcore-streams-')
    corpus = await copyCorpus(join(work, 'corpus'), [
      { path: '/usr/bin', maxBytes: 3 * MiB },
      { path: '/usr/include', maxBytes: 2 * MiB },
      { path: '/usr/lib/python3', maxBytes: 2 * MiB },
      { path: '/etc' }
    ])
    ;[a, small, b, old] = await Promise.all([
      TestCore.create('a'),
      TestCore.create('small', { engine: { batchSize: 32 } }),
      TestCore.create('b'),
      TestCore.create('old', { engine: { protocolVersions: [1] } })
    ])
    await Promise.all([pair(a, b), pair(a, old), pair(small, b)])
    point = (await a.backup('web01', corpus.dir)).point
  })
  after(async () => {
    await Promise.all([a?.destroy(), small?.destroy(), b?.destroy(), old?.destroy()])
    await removeDir(work)
  })

  test('four streams carry a point of real files whole: the target verifies it by a full rehash and restores it byte for byte', async (t) => {
    const row = await a.addRule('web01', b, { streams: 4 })
    assert.equal(row.streams, 4, 'replication list shows the rule\'s streams')
    const closure = await closureOf(a, point)
    const [opened, served] = [streamsOf(a, REPLICATE_PROTOCOL_V2), streamsOf(b, REPLICATE_PROTOCOL_V2)]
    const result = await a.replicateNow('web01', b)
    assert.deepEqual(result.sent, [point])
    assert.equal(result.streams, 4, 'the job opened its session and three more streams')
    assert.equal(a.events.ofType('replication.finished').at(-1)!.data.streams, 4, 'replication.finished says so too')
    assert.equal(streamsOf(a, REPLICATE_PROTOCOL_V2) - opened, 4, 'the source opened four version 2 streams')
    assert.equal(streamsOf(b, REPLICATE_PROTOCOL_V2) - served, 4, 'the target served four')
    assert.equal(result.blocksSent, closure.blocks, 'every block of the closure was sent once, over all the streams')
    assert.equal(result.bytesSent, closure.bytes)
    // the point is committed once, with what every stream delivered; no share looks interrupted
    const received = b.events.ofType('replication.received').filter(e => e.data.point === point)
    assert.equal(received.length, 1)
    assert.equal(received[0].data.complete, true)
    assert.equal(received[0].data.blocks, closure.blocks, 'the commit counts the blocks of every stream')
    assert.deepEqual(b.events.ofType('replication.interrupted'), [])
    assert.equal((await b.core.points.get(point, 'a'))?.complete, true)
    t.diagnostic(`${closure.blocks} blocks, ${closure.bytes} bytes over ${result.streams} streams in ${result.seconds.toFixed(2)} s`)
    await assertVerifies(b)
    await assertRestores(b, 'web01', corpus.dir, join(work, 'restore-b'))
  })

  test('a Core that speaks only version 1 is sent the shares in version 1 too', async () => {
    await a.addRule('web01', old, { streams: 4 })
    const result = await a.replicateNow('web01', old)
    assert.deepEqual(result.sent, [point])
    assert.equal(result.streams, 4)
    assert.equal(streamsOf(old, REPLICATE_PROTOCOL), 4, 'the v1-only target served four version 1 streams')
    assert.equal(streamsOf(old, REPLICATE_PROTOCOL_V2), 0)
    assert.deepEqual(old.events.ofType('replication.interrupted'), [])
    await assertVerifies(old)
    await assertRestores(old, 'web01', corpus.dir, join(work, 'restore-old'))
  })

  test('a target that serves fewer streams than the rule asks for gets the point on those it serves', async () => {
    // as a Core from before --streams serves 8 replicate streams per connection: here 2
    const narrow = await TestCore.create('narrow', { engine: { inboundReplicateStreams: 2 } })
    try {
      await pair(a, narrow)
      await a.addRule('web01', narrow, { streams: 4 })
      const result = await a.replicateNow('web01', narrow)
      assert.deepEqual(result.sent, [point])
      assert.equal(streamsOf(narrow, REPLICATE_PROTOCOL_V2), 2, 'the target served two streams and refused the others')
      assert.deepEqual(narrow.events.ofType('replication.interrupted'), [])
      assert.equal((await narrow.core.points.get(point, 'a'))?.complete, true)
      await assertVerifies(narrow)
    } finally {
      await narrow.destroy()
    }
  })

  test('the rate limit holds within 10% for the four streams together', async (t) => {
    const src = join(work, 'random')
    await mkdir(src)
    // incompressible: what the wire carries is the blocks' size
    await writeFile(join(src, 'image.bin'), randomBytes(10 * MiB))
    await small.backup('img01', src)
    const limit = 3 * MiB
    await small.addRule('img01', b, { limit: '3M', streams: 4 })
    // the target's view: frame bytes received over time, sampled every 20 ms
    const samples: Array<{ at: number, bytes: number }> = []
    const start = b.engine.metrics.wireBytesReceived
    const timer = setInterval(() => { samples.push({ at: performance.now(), bytes: b.engine.metrics.wireBytesReceived - start }) }, 20)
    let result
    try {
      result = await small.replicateNow('img01', b)
    } finally {
      clearInterval(timer)
    }
    assert.equal(result.streams, 4)
    const total = samples.at(-1)!.bytes
    const first = samples.find(s => s.bytes > 64 * 1024)!
    const last = samples.find(s => s.bytes >= total)!
    const rate = (last.bytes - first.bytes) / ((last.at - first.at) / 1000)
    t.diagnostic(`limit ${limit} B/s; the target received ${(rate / MiB).toFixed(2)} MiB/s over ${((last.at - first.at) / 1000).toFixed(1)} s on ${result.streams} streams`)
    assert.ok(last.at - first.at > 2000, 'measured over more than two seconds')
    assert.ok(rate <= 1.1 * limit, `${rate} B/s is over the limit of ${limit} by more than 10%`)
    assert.ok(rate >= 0.8 * limit, `${rate} B/s is far below the limit of ${limit}: the streams wait for each other's tokens`)
  })

  test('a rule stored before --streams existed (no streams field) lists as one stream and its job opens one', async () => {
    const target = await TestCore.create('legacy')
    try {
      await pair(a, target)
      await a.addRule('web01', target, { streams: 4 })
      // as a Core from before the option stored it
      const stored = jsonSublevel<RuleRecord>(a.core.files.db, 'rules')
      const key = RuleStore.key('web01', target.peerId)
      const { streams, ...older } = (await stored.get(key))!
      assert.equal(streams, 4)
      await stored.put(key, older)
      assert.equal((await a.rule('web01', target)).streams, 1, 'replication list shows the default')
      const opened = streamsOf(a, REPLICATE_PROTOCOL_V2)
      const result = await a.replicateNow('web01', target)
      assert.deepEqual(result.sent, [point])
      assert.equal(result.streams, 1)
      assert.equal(streamsOf(a, REPLICATE_PROTOCOL_V2) - opened, 1, 'one stream opened')
    } finally {
      await target.destroy()
    }
  })

  test('an interrupted job on four streams resumes: the retry sends only the blocks the target had not stored', async (t) => {
    const src = join(work, 'resume')
    await mkdir(src)
    // 32 MiB in batches of 32 blocks: the four streams hold at most 8 batches asked and unsent
    // (a pipeline of 2 each), so when the job is cancelled after 4 MiB the delta is far from
    // exhausted and no stream can have finished its share and closed cleanly (a stream that did
    // ends as a share, not as an interruption: with 16 MiB the last stream to open sometimes did)
    await writeFile(join(src, 'image.bin'), randomBytes(32 * MiB))
    const resumed = (await small.backup('vm01', src)).point
    const total = (await closureOf(small, resumed)).bytes
    const target = await TestCore.create('dr')
    try {
      await pair(small, target)
      const controller = new AbortController()
      let fired = false
      const job = small.engine.replicate(rule('vm01', target, { limit: 12 * MiB, streams: 4 }), {
        signal: controller.signal,
        onProgress: (p) => {
          if (!fired && p.bytesSent >= 4 * MiB) {
            fired = true
            controller.abort()
          }
        }
      })
      await assert.rejects(job)
      assert.ok(fired, 'the job was cancelled before it finished')
      const sentBefore = small.events.ofType('replication.failed').at(-1)!.data.bytes as number
      // every stream that was cut off keeps what it received
      const served = streamsOf(target, REPLICATE_PROTOCOL_V2)
      assert.equal(served, 4, 'the cancelled job had four streams open')
      await until(() => target.events.ofType('replication.interrupted').length === served, 10_000)
      assert.ok(target.events.ofType('replication.interrupted').every(e => e.data.kept === true))
      assert.equal(await target.core.points.get(resumed), undefined, 'no point is committed before its blocks')
      const stored = (await target.storedBlocks()).rawBytes

      const retry = await small.engine.replicate(rule('vm01', target, { streams: 4 }))
      assert.deepEqual(retry.sent, [resumed])
      assert.equal(retry.bytesSent, total - stored, 'the retry sends exactly the blocks the target lacked')
      const resent = sentBefore + retry.bytesSent - total
      t.diagnostic(`sent ${sentBefore} before the cancel, ${retry.bytesSent} after; ${resent} bytes sent twice`)
      // what the four streams had on their way when they were reset: each a block being written
      // and at most 1 MiB queued in its writer
      assert.ok(resent >= 0 && resent <= 4 * (MiB + 256 * 1024), `${resent} bytes were sent twice`)
      assert.equal((await target.core.points.get(resumed, 'small'))?.complete, true)
      const dest = join(work, 'restore-resume')
      await target.core.run('restore', { machine: 'vm01', dest })
      assert.deepEqual(await snapshotTree(join(dest, 'data')), await snapshotTree(src))
    } finally {
      await target.destroy()
    }
  })
})
