import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { walkClosure } from '../../src/points/closure.ts'
import { loadManifest } from '../../src/points/manifest.ts'
import { tempDir, removeDir } from '../support/dirs.ts'
import { snapshotTree } from '../helpers/tree.ts'
import { until } from '../support/wait.ts'
import { TestCore, pair, rule } from '../support/core.ts'

const MiB = 1024 * 1024
/** The target makes what arrived durable every 2 MiB. */
const FLUSH = 2 * MiB
/** A rate the test can interrupt reliably, however loaded the machine. */
const LIMIT = 12 * MiB

/** Bytes of the blocks of a point's closure, the manifest aside (what a full transfer sends). */
async function closureBytes (core: TestCore, point: string): Promise<number> {
  const signed = await loadManifest(core.core.store, point)
  let bytes = 0
  for await (const cid of walkClosure(core.core.store, signed)) {
    if (!cid.equals(signed.id)) bytes += (await core.core.store.size(cid))!
  }
  return bytes
}

/**
 * Replicates until `bytesSent` passes `at`, then runs `interrupt`; resolves with the bytes the
 * job sent, and those it had sent when the interruption began.
 */
async function interruptedJob (source: TestCore, target: TestCore, at: number, interrupt: (controller: AbortController) => void): Promise<{ sent: number, sentAtInterrupt: number }> {
  const controller = new AbortController()
  let fired = false
  let sentAtInterrupt = 0
  const job = source.engine.replicate(rule('web01', target, { limit: LIMIT }), {
    signal: controller.signal,
    onProgress: (p) => {
      if (!fired && p.bytesSent >= at) {
        fired = true
        sentAtInterrupt = p.bytesSent
        interrupt(controller)
      }
    }
  })
  await assert.rejects(job)
  assert.ok(fired, 'the job was interrupted before it finished')
  const [failed] = source.events.ofType('replication.failed').slice(-1)
  return { sent: failed.data.bytes as number, sentAtInterrupt }
}

/**
 * The engine's internals, driven directly (a rule record by hand, an AbortSignal, progress by the
 * byte): the byte accounting of a job cut at a chosen point and of its retry. What an operator
 * does (pause, kill, restart) is tested end to end in test/e2e/replication-resume.test.ts and
 * replication-control.test.ts.
 */
describe('engine internals: an interrupted transfer resumes and re-sends only what the target had not stored', { timeout: 120_000 }, () => {
  let work: string
  let src: string
  let a: TestCore
  let total: number
  let point: string

  before(async () => {
    work = await tempDir('drcore-interrupt-')
    src = join(work, 'src')
    await mkdir(src)
    await writeFile(join(src, 'image.bin'), randomBytes(24 * MiB))
    a = await TestCore.create('hq')
    point = (await a.backup('web01', src)).point
    total = await closureBytes(a, point)
  })
  after(async () => {
    await a?.destroy()
    await removeDir(work)
  })

  test('the source cancels the job: the target keeps every block that arrived', async (t) => {
    const b = await TestCore.create('dr', { engine: { flushBytes: FLUSH } })
    try {
      await pair(a, b)
      const { sent: sentBefore } = await interruptedJob(a, b, 8 * MiB, controller => { controller.abort() })
      await until(() => b.events.ofType('replication.interrupted').length === 1, 10_000)
      const [interrupted] = b.events.ofType('replication.interrupted')
      assert.equal(interrupted.data.kept, true)
      const stored = (await b.storedBlocks()).rawBytes
      assert.equal(await b.core.points.get(point), undefined, 'no point is committed before its blocks')

      const retry = await a.engine.replicate(rule('web01', b))
      assert.deepEqual(retry.sent, [point])
      assert.equal(retry.bytesSent, total - stored, 'the retry sends exactly the blocks the target lacked')
      const resent = sentBefore + retry.bytesSent - total
      t.diagnostic(`sent ${sentBefore} before the cancel, ${retry.bytesSent} after; ${resent} bytes sent twice`)
      assert.ok(resent >= 0 && resent <= 2 * MiB, `${resent} bytes were sent twice: at most what was in the network when the job stopped`)
      assert.equal((await b.core.points.get(point, 'hq'))?.complete, true)
      const dest = join(work, 'restore-cancel')
      await b.core.run('restore', { machine: 'web01', dest })
      assert.deepEqual(await snapshotTree(join(dest, 'data')), await snapshotTree(src))
    } finally {
      await b.destroy()
    }
  })

  test('the target stops mid-transfer: after its restart the point arrives complete, re-sending at most what was unflushed or in flight', async (t) => {
    const b = await TestCore.create('dr2', { engine: { flushBytes: FLUSH } })
    try {
      await pair(a, b)
      let stopping: Promise<void> | undefined
      // the target's repository closes under the transfer: its unflushed blocks are dropped
      const { sent: sentBefore, sentAtInterrupt } = await interruptedJob(a, b, 10 * MiB, () => { stopping = b.stop() })
      await stopping
      await b.start()
      const stored = (await b.storedBlocks()).rawBytes
      assert.ok(stored > 0, 'what was flushed before the stop survived it')

      const retry = await a.engine.replicate(rule('web01', b))
      assert.deepEqual(retry.sent, [point])
      assert.equal(retry.bytesSent, total - stored)
      const resent = sentBefore + retry.bytesSent - total
      // what the source sent while the target was stopping (how long that takes depends on the
      // machine's load, not on the protocol) reached a repository that was closing
      const duringStop = sentBefore - sentAtInterrupt
      t.diagnostic(`sent ${sentBefore} before the stop (${duringStop} while it stopped), ${retry.bytesSent} after; ${resent} bytes sent twice`)
      // besides those: the block being flushed and those queued after it (two flushes' worth),
      // and what the network held at this rate (well under a megabyte)
      assert.ok(resent >= 0 && resent <= 2 * FLUSH + MiB + duringStop, `${resent} bytes were sent twice, ${duringStop} of them while the target stopped`)
      assert.equal((await b.core.points.get(point, 'hq'))?.complete, true)
    } finally {
      await b.destroy()
    }
  })
})
