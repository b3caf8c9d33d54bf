import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SerialQueue } from '../../src/common/serial-queue.ts'

const tick = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

describe('a serial queue', { timeout: 10_000 }, () => {
  it('runs the functions one at a time, in the order they were queued, each resolving to its own result', async () => {
    const queue = new SerialQueue()
    const log: string[] = []
    let running = 0
    const results = await Promise.all([30, 1, 15, 5].map(async (ms, i) => await queue.run(async () => {
      running++
      assert.equal(running, 1, 'nothing else runs meanwhile')
      log.push(`start ${i}`)
      await tick(ms)
      log.push(`end ${i}`)
      running--
      return i * 10
    })))
    assert.deepEqual(log, ['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3'])
    assert.deepEqual(results, [0, 10, 20, 30])
  })

  it('a failure is its caller\'s alone: the next function runs', async () => {
    const queue = new SerialQueue()
    const failed = queue.run(async () => { throw new Error('first') })
    const next = queue.run(async () => 'second')
    await assert.rejects(failed, /first/)
    assert.equal(await next, 'second')
  })

  it('settled() waits for every function queued before it, and does not reject for a failed one', async () => {
    const queue = new SerialQueue()
    const done: number[] = []
    void queue.run(async () => { await tick(20); done.push(1) })
    queue.run(async () => { await tick(5); throw new Error('lost') }).catch(() => {})
    await queue.settled()
    assert.deepEqual(done, [1])
    let later = false
    void queue.run(async () => { await tick(20); later = true })
    assert.equal(later, false)
    await queue.settled()
    assert.equal(later, true)
  })
})
