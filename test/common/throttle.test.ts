import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { PROGRESS_INTERVAL_MS, Throttle, throttled } from '../../src/common/throttle.ts'

/** A clock the test moves by hand. */
function clock (): { now: () => number, advance: (ms: number) => void } {
  let t = 1_000
  return { now: () => t, advance: ms => { t += ms } }
}

describe('a throttle', { timeout: 10_000 }, () => {
  it('lets the first call through, then one per interval', () => {
    const c = clock()
    const throttle = new Throttle(100, c.now)
    assert.equal(throttle.ready(), true, 'the first call')
    c.advance(99)
    assert.equal(throttle.ready(), false, '99 ms later')
    c.advance(1)
    assert.equal(throttle.ready(), true, '100 ms after the last that passed')
    assert.equal(throttle.ready(), false, 'at once again')
  })

  it('by default, one call per PROGRESS_INTERVAL_MS', () => {
    const c = clock()
    const throttle = new Throttle(undefined, c.now)
    throttle.ready()
    c.advance(PROGRESS_INTERVAL_MS - 1)
    assert.equal(throttle.ready(), false)
    c.advance(1)
    assert.equal(throttle.ready(), true)
  })

  it('a forced call always passes and starts the interval again', () => {
    const c = clock()
    const throttle = new Throttle(100, c.now)
    throttle.ready()
    c.advance(60)
    assert.equal(throttle.ready(true), true)
    c.advance(60)
    assert.equal(throttle.ready(), false, '120 ms after the first, but 60 after the forced one')
    c.advance(40)
    assert.equal(throttle.ready(), true)
  })

  it('throttled() reports the values that pass, the forced ones always, and accepts no reporter', () => {
    const c = clock()
    const seen: number[] = []
    const report = throttled((n: number) => { seen.push(n) }, 100, c.now)
    for (let n = 0; n < 10; n++) {
      report(n)
      c.advance(30)
    }
    report(10, true)
    assert.deepEqual(seen, [0, 4, 8, 10])
    assert.doesNotThrow(() => { throttled<number>(undefined)(1, true) })
  })
})
