import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir, removeDir } from '../support/dirs.ts'
import { TestCore, pair } from '../support/core.ts'
import { copyCorpus } from '../helpers/real-data.ts'

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

  test('counts the bytes on the wire: real files, sent as stored (compressed), go at the limit in wire bytes and faster in file bytes', async (t) => {
    const corpus = await copyCorpus(join(work, 'real'), [{ path: '/usr/include', maxBytes: 1.5 * MiB }, { path: '/usr/bin', maxBytes: 0.5 * MiB }])
    await a.backup('docs01', corpus.dir)
    // low enough that a loaded CI machine still outruns it in file bytes
    const limit = 128 * 1024
    await a.addRule('docs01', b, { limit: '128K' })
    const samples: Array<{ at: number, wire: number, raw: number }> = []
    const sample = (): void => { samples.push({ at: performance.now(), wire: b.engine.metrics.wireBytesReceived, raw: b.engine.metrics.bytesReceived }) }
    sample()
    const timer = setInterval(sample, 20)
    try {
      await a.replicateNow('docs01', b)
    } finally {
      clearInterval(timer)
    }
    sample()
    // from the first block to the last: the offer and the first "have?" go before the bucket fills
    const start = samples.find(s => s.raw > samples[0].raw)!
    const end = samples.find(s => s.raw === samples[samples.length - 1].raw)!
    const seconds = (end.at - start.at) / 1000
    const wireRate = (end.wire - start.wire) / seconds
    const rawRate = (end.raw - start.raw) / seconds
    t.diagnostic(`limit ${limit} B/s; wire ${(wireRate / 1024).toFixed(0)} KiB/s, file bytes ${(rawRate / 1024).toFixed(0)} KiB/s over ${seconds.toFixed(1)} s`)
    assert.ok(seconds > 2, 'measured over more than two seconds')
    assert.ok(Math.abs(wireRate / limit - 1) <= 0.1, `${wireRate} wire bytes/s against a limit of ${limit}`)
    assert.ok(rawRate > 1.5 * limit, 'the block bytes delivered outrun the limit: it counts what the link carries')
  })
})
