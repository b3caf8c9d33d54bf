import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { UsageError } from '../../src/errors.ts'
import { checkRuleMachine, parseRate } from '../../src/rules/index.ts'

describe('replication rule input', () => {
  it('--limit is bytes per second with binary K, M, G multiples', () => {
    assert.equal(parseRate('512K'), 512 * 1024)
    assert.equal(parseRate('10M'), 10 * 1024 * 1024)
    assert.equal(parseRate('1.5G'), 1.5 * 1024 ** 3)
    assert.equal(parseRate('10MiB/s'), 10 * 1024 * 1024)
    assert.equal(parseRate('2048'), 2048)
    assert.throws(() => parseRate('fast'), (err: Error) => err instanceof UsageError && err.message === '--limit: not a rate: "fast" (bytes per second, e.g. 512K, 10M, 1G)')
    assert.throws(() => parseRate('10 Mbit'), UsageError)
    assert.throws(() => parseRate('100'), /below the lowest rate, 1K/)
  })

  it('a rule names a machine, or TENANT/MACHINE', () => {
    assert.equal(checkRuleMachine('web01'), 'web01')
    assert.equal(checkRuleMachine('siteA/web01'), 'siteA/web01')
    assert.equal(checkRuleMachine('/web01'), '/web01')
    for (const bad of ['', 'web 01', 'siteA/', 'a\u0000b/web01', 'a/b/web01']) assert.throws(() => checkRuleMachine(bad), UsageError, bad)
  })
})
