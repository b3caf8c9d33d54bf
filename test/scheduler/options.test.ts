import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { namesMachine, parseDelays } from '../../src/scheduler/index.ts'

describe('retry delays and the machines a rule names', { timeout: 10_000 }, () => {
  it('retry delays parse from a list of durations', () => {
    assert.deepEqual(parseDelays('500ms,2s,1.5m,1h'), [500, 2000, 90_000, 3_600_000])
    assert.equal(parseDelays(''), undefined)
    assert.equal(parseDelays('5 minutes'), undefined)
  })

  it('a rule\'s machine name names machines as findMachine does', () => {
    const m = { machine: 'web01', tenant: 'siteA', origin: '12D3KooWorigin' }
    assert.equal(namesMachine('web01', m), true)
    assert.equal(namesMachine('siteA/web01', m), true)
    assert.equal(namesMachine('12D3KooWorigin/web01', m), true)
    assert.equal(namesMachine('/web01', m), false)
    assert.equal(namesMachine('/web01', { ...m, tenant: '' }), true)
    assert.equal(namesMachine('siteB/web01', m), false)
    assert.equal(namesMachine('web02', m), false)
  })
})
