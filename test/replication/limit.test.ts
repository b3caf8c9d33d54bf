import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir, removeDir } from '../support/dirs.ts'
import { TestCore, pair } from '../support/core.ts'

const MiB = 1024 * 1024

describe('a rule\'s --limit', { timeout: 120_000 }, () => {
  let work: string
  let a: TestCore
  let b: TestCore

  before(async () => {
    work = await tempDir('drcore-limit-')
    await mkdir(join(work, 'src'))
    await writeFile(join(work, 'src', 'image.bin'), randomBytes(12 * MiB))
    ;[a, b] = await Promise.all([TestCore.create('hq'), TestCore.create('dr')])
    await pair(a, b)
    await a.backup('web01', join(work, 'src'))
  })
  after(async () => {
    await Promise.all([a?.destroy(), b?.destroy()])
    await removeDir(work)
  })

  test('holds the rate the target sees within 10% over a few seconds', async (t) => {
    const limit = 4 * MiB
    await a.addRule('web01', b, { limit: '4M' })
    // the target's view: block bytes received over time, sampled every 20 ms
    const samples: Array<{ at: number, bytes: number }> = []
    const timer = setInterval(() => { samples.push({ at: performance.now(), bytes: b.engine.metrics.bytesReceived }) }, 20)
    let result
    try {
      result = await a.replicateNow('web01', b)
    } finally {
      clearInterval(timer)
    }
    const first = samples.find(s => s.bytes > 0)!
    const last = samples.find(s => s.bytes === result.bytesSent)!
    const rate = (last.bytes - first.bytes) / ((last.at - first.at) / 1000)
    t.diagnostic(`limit ${limit} B/s; the target received ${(rate / MiB).toFixed(2)} MiB/s over ${((last.at - first.at) / 1000).toFixed(1)} s`)
    assert.ok(last.at - first.at > 2000, 'measured over more than two seconds')
    assert.ok(Math.abs(rate / limit - 1) <= 0.1, `${rate} B/s against a limit of ${limit}`)
  })
})
