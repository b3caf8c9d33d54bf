import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { formatDuration, parseDuration, subtract } from '../../src/retention/duration.ts'
import { applyPolicy, isEmptyPolicy, isoWeek } from '../../src/retention/policy.ts'
import type { RetentionPolicy } from '../../src/retention/policy.ts'

/**
 * What restic's own `forget` kept for each history and policy, recorded by running restic
 * (scripts/restic-forget-cases.ts): drcore's retention is held to restic's behaviour, not to our
 * reading of its documentation.
 */
const recorded = JSON.parse(readFileSync(new URL('./restic-cases.json', import.meta.url), 'utf8')) as {
  restic: string
  histories: Array<{ name: string, times: string[], runs: Array<{ policy: string[], keep: string[] }> }>
}

/** restic's flags as a policy. */
function policyOf (flags: string[]): RetentionPolicy {
  const policy: RetentionPolicy = {}
  for (let i = 0; i < flags.length; i += 2) {
    const [flag, value] = [flags[i], flags[i + 1]]
    if (flag === '--keep-within') policy.within = parseDuration(value)
    else policy[flag.slice('--keep-'.length) as 'last'] = Number(value)
  }
  return policy
}

describe('retention policy: the buckets of restic forget', { timeout: 30_000 }, () => {
  for (const c of recorded.histories.flatMap(h => h.runs.map(run => ({ ...run, name: h.name, times: h.times })))) {
    it(`${c.name}: ${c.policy.join(' ')} keeps what ${recorded.restic.split(' ').slice(0, 2).join(' ')} keeps`, () => {
      // the clock is after the last point, as when restic recorded the case
      const decision = applyPolicy(c.times, t => Date.parse(t), policyOf(c.policy), { now: Date.parse('2030-01-01T00:00:00Z'), timeZone: 'UTC', keepOldest: false })
      assert.deepEqual(decision.keep.map(k => k.item).sort(), c.keep)
      assert.equal(decision.keep.length + decision.remove.length, c.times.length)
    })
  }

  it('keeps the newest point of each day, newest days first, and says why', () => {
    const times = ['2026-03-01T08:00:00Z', '2026-03-01T20:00:00Z', '2026-03-02T09:00:00Z', '2026-03-03T07:00:00Z', '2026-03-03T23:59:59Z']
    const d = applyPolicy(times, t => Date.parse(t), { daily: 2 }, { now: Date.parse('2026-04-01T00:00:00Z'), timeZone: 'UTC' })
    assert.deepEqual(d.keep.map(k => [k.item, k.reasons]), [['2026-03-03T23:59:59Z', ['daily']], ['2026-03-02T09:00:00Z', ['daily']]])
    assert.deepEqual(d.remove, ['2026-03-03T07:00:00Z', '2026-03-01T20:00:00Z', '2026-03-01T08:00:00Z'])
  })

  it('keeps the oldest point too while a count rule has counts left (restic 0.15 and later)', () => {
    const times = ['2026-03-01T08:00:00Z', '2026-03-01T09:00:00Z', '2026-03-01T10:00:00Z']
    const d = applyPolicy(times, t => Date.parse(t), { daily: 5 }, { timeZone: 'UTC' })
    assert.deepEqual(d.keep.map(k => k.item), ['2026-03-01T10:00:00Z', '2026-03-01T08:00:00Z'])
  })

  it('cuts days in the zone it is given, not in UTC', () => {
    // 23:30 and 00:30 UTC fall on two UTC days but on one day in New York (19:30 and 20:30)
    const times = ['2026-06-01T23:30:00Z', '2026-06-02T00:30:00Z', '2026-06-02T12:00:00Z']
    const utc = applyPolicy(times, t => Date.parse(t), { daily: 2 }, { timeZone: 'UTC' })
    assert.deepEqual(utc.remove, ['2026-06-02T00:30:00Z'])
    const ny = applyPolicy(times, t => Date.parse(t), { daily: 2 }, { timeZone: 'America/New_York' })
    assert.deepEqual(ny.remove, ['2026-06-01T23:30:00Z'])
  })

  it('measures --keep-within from the newest point that is not in the future', () => {
    const now = Date.parse('2026-05-10T00:00:00Z')
    const times = ['2026-05-01T00:00:00Z', '2026-05-07T12:00:00Z', '2026-05-09T00:00:00Z', '2027-01-01T00:00:00Z']
    const d = applyPolicy(times, t => Date.parse(t), { within: parseDuration('2d') }, { now, timeZone: 'UTC' })
    assert.deepEqual(d.keep.map(k => k.item).sort(), ['2026-05-07T12:00:00Z', '2026-05-09T00:00:00Z', '2027-01-01T00:00:00Z'])
  })

  it('an empty policy keeps everything', () => {
    assert.equal(isEmptyPolicy({ last: 0, within: parseDuration('0d') }), true)
    assert.deepEqual(applyPolicy(['a', 'b'], () => 0, {}).remove, [])
  })

  it('numbers ISO weeks as restic does, across year ends', () => {
    assert.equal(isoWeek(2019, 12, 30), 202001)
    assert.equal(isoWeek(2021, 1, 3), 202053)
    assert.equal(isoWeek(2026, 12, 5), 202649)
  })
})

describe('durations', () => {
  it('parses and formats years, months, days and hours', () => {
    assert.deepEqual(parseDuration('1y2m3d4h'), { years: 1, months: 2, days: 3, hours: 4 })
    assert.deepEqual(parseDuration('30d'), { years: 0, months: 0, days: 30, hours: 0 })
    assert.equal(formatDuration(parseDuration('6m12h')), '6m12h')
  })

  it('refuses what is not a duration, in one line naming it', () => {
    for (const bad of ['', '7', '1w', 'd3', '1d1d', '-1d', '1.5d']) {
      assert.throws(() => parseDuration(bad, '--keep-within'), (err: Error) => err.message.startsWith(`invalid --keep-within ${JSON.stringify(bad)}`))
    }
  })

  it('subtracts calendar months and years', () => {
    assert.equal(new Date(subtract(Date.parse('2026-03-31T10:00:00Z'), parseDuration('1m'))).toISOString(), '2026-03-03T10:00:00.000Z')
    assert.equal(new Date(subtract(Date.parse('2026-03-01T10:00:00Z'), parseDuration('1y1d2h'))).toISOString(), '2025-02-28T08:00:00.000Z')
  })
})
