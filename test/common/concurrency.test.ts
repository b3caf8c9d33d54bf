import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { mapLimit, readAhead } from '../../src/common/concurrency.ts'

const tick = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Counts the calls running at once; `delays[i]` is how long call i takes. */
function gauge (delays: number[]): { fn: (item: number, index: number) => Promise<string>, most: () => number, started: number[] } {
  let running = 0
  let most = 0
  const started: number[] = []
  return {
    started,
    most: () => most,
    fn: async (item, index) => {
      started.push(index)
      running++
      most = Math.max(most, running)
      await tick(delays[index])
      running--
      return `${item}@${index}`
    }
  }
}

describe('mapLimit', { timeout: 10_000 }, () => {
  it('runs at most `limit` calls at once and resolves to the results in input order', async () => {
    const delays = [25, 1, 10, 1, 15, 1, 1, 5]
    const g = gauge(delays)
    const results = await mapLimit(delays.map((_, i) => i * 10), 3, g.fn)
    assert.deepEqual(results, delays.map((_, i) => `${i * 10}@${i}`))
    assert.equal(g.most(), 3)
  })

  it('starts a new call as soon as one ends, not when a whole batch has', async () => {
    const g = gauge([60, 1, 1, 1, 1])
    let startedWhileFirstRan = 0
    await mapLimit([0, 1, 2, 3, 4], 2, async (item, index) => {
      const result = await g.fn(item, index)
      if (index === 0) startedWhileFirstRan = g.started.length
      return result
    })
    assert.equal(startedWhileFirstRan, 5, 'items 1 to 4 ran one after another beside item 0')
  })

  it('rejects with the first failure', async () => {
    await assert.rejects(mapLimit([1, 2, 3], 2, async x => { if (x === 2) throw new Error('two failed'); return x }), /two failed/)
  })

  it('an empty list is an empty result, and a limit below 1 is refused', async () => {
    assert.deepEqual(await mapLimit([], 4, async x => x), [])
    await assert.rejects(mapLimit([1], 0, async x => x), RangeError)
  })
})

describe('readAhead', { timeout: 10_000 }, () => {
  it('yields results in source order while up to `depth` calls run ahead of the consumer', async () => {
    const delays = [30, 1, 20, 1, 1, 10, 1, 1, 1, 1]
    const g = gauge(delays)
    const seen: string[] = []
    for await (const result of readAhead(delays.map((_, i) => i), 4, g.fn)) {
      seen.push(result)
      await tick(2) // the consumer works; the calls ahead of it go on meanwhile
    }
    assert.deepEqual(seen, delays.map((_, i) => `${i}@${i}`))
    assert.equal(g.most(), 4)
  })

  it('keeps `depth` calls in flight while the consumer handles a result', async () => {
    const g = gauge(new Array(10).fill(1))
    const iterator = readAhead(Array.from({ length: 10 }, (_, i) => i), 3, g.fn)
    assert.equal((await iterator.next()).value, '0@0')
    assert.deepEqual(g.started, [0, 1, 2, 3], 'item 0 was taken and items 1 to 3 started before it was handed over')
    await iterator.return(undefined)
  })

  it('reads an async source lazily and closes it when the consumer stops early', async () => {
    let pulled = 0
    let closed = false
    async function * source (): AsyncGenerator<number> {
      try {
        for (let i = 0; i < 100; i++) {
          pulled++
          yield i
        }
      } finally {
        closed = true
      }
    }
    for await (const result of readAhead(source(), 2, async x => x * 2)) {
      if (result === 4) break
    }
    assert.ok(pulled <= 5, `pulled ${pulled} of 100: only what the window needed`)
    assert.equal(closed, true)
  })

  it('a failed call surfaces in its turn, after the results before it', async () => {
    const seen: number[] = []
    await assert.rejects(async () => {
      for await (const x of readAhead([1, 2, 3, 4], 4, async x => {
        if (x === 3) throw new Error('three failed')
        await tick(x === 1 ? 20 : 1)
        return x
      })) seen.push(x)
    }, /three failed/)
    assert.deepEqual(seen, [1, 2])
  })

  it('waits for the calls in flight before it returns, when the consumer stops or a call fails', async () => {
    let settled = 0
    const slow = async (x: number): Promise<number> => {
      await tick(x === 0 ? 1 : 20)
      settled++
      if (x === 1) throw new Error('one failed')
      return x
    }
    // eslint-disable-next-line no-unreachable-loop -- leaves after the first value on purpose
    for await (const x of readAhead([0, 1, 2, 3], 4, slow)) {
      assert.equal(x, 0)
      break
    }
    assert.equal(settled, 4, 'the three calls ahead had settled when the loop was left')
    settled = 0
    await assert.rejects(async () => { for await (const _ of readAhead([1, 2, 3], 3, slow)); }, /one failed/)
    assert.equal(settled, 3, 'the calls behind the failed one had settled when it surfaced')
  })

  it('takes a plain iterable and refuses a depth below 1', async () => {
    const seen: string[] = []
    for await (const x of readAhead(new Set(['a', 'b']), 1, async (x, i) => `${x}${i}`)) seen.push(x)
    assert.deepEqual(seen, ['a0', 'b1'])
    await assert.rejects(async () => { for await (const _ of readAhead([1], 0, async x => x)); }, RangeError)
  })
})
