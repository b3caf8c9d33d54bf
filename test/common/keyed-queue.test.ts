import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { KeyedSerialQueue } from '../../src/common/keyed-queue.ts'

const tick = async (ms = 5): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

describe('a keyed serial queue', { timeout: 10_000 }, () => {
  it('runs the functions of one key one at a time, in the order they were queued', async () => {
    const queue = new KeyedSerialQueue()
    const log: string[] = []
    let running = 0
    await Promise.all([30, 1, 15, 5].map(async (ms, i) => await queue.run('k', async () => {
      running++
      assert.equal(running, 1, 'nothing else of the key runs meanwhile')
      log.push(`start ${i}`)
      await tick(ms)
      log.push(`end ${i}`)
      running--
    })))
    assert.deepEqual(log, ['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3'])
  })

  it('a failure is its caller\'s alone: the next function of the key runs', async () => {
    const queue = new KeyedSerialQueue()
    const failed = queue.run('k', async () => { throw new Error('first') })
    const next = queue.run('k', async () => 'second')
    await assert.rejects(failed, /first/)
    assert.equal(await next, 'second')
  })

  it('different keys do not wait for each other', async () => {
    const queue = new KeyedSerialQueue()
    let release!: () => void
    const held = queue.run('a', async () => { await new Promise<void>(resolve => { release = resolve }) })
    assert.equal(await queue.run('b', async () => 'b ran'), 'b ran', 'b ran while a was held')
    release()
    await held
  })
})
