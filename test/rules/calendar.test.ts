import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { UsageError } from '../../src/errors.ts'
import { checkSchedule, checkWindow, inWindow, lastCronRun, nextCronRun, nextWindowStart } from '../../src/rules/index.ts'
import { at } from '../scheduler/harness.ts'

describe('schedules and windows', { timeout: 10_000 }, () => {
  it('a schedule is after-backup or a cron expression of 5 or 6 fields that fires', () => {
    assert.equal(checkSchedule('after-backup'), 'after-backup')
    assert.equal(checkSchedule(' 0  2 * * * '), '0 2 * * *')
    assert.equal(checkSchedule('*/30 * * * * *'), '*/30 * * * * *')
    assert.throws(() => checkSchedule('nightly'), (err: Error) => err instanceof UsageError && /"nightly" is neither after-backup nor a cron expression: one has 5 fields .* or 6 \(seconds first\), not 1$/.test(err.message))
    // one count of fields, not croner's own "five, six, or seven" after ours
    assert.throws(() => checkSchedule('every day'), (err: Error) => /not 2$/.test(err.message) && !/seven/.test(err.message))
    assert.throws(() => checkSchedule('0 0 0 1 1 * 2030'), UsageError, '7 fields (years) are refused')
    assert.throws(() => checkSchedule('0 61 * * *'), UsageError)
    assert.throws(() => checkSchedule('0 0 30 2 *'), /never fires/)
  })

  it('cron runs are found forwards and backwards, the boundary included backwards', () => {
    assert.deepEqual(nextCronRun('0 2 * * *', at(1, 59)), at(2))
    assert.deepEqual(nextCronRun('0 2 * * *', at(2)), at(2, 0, 0, 26))
    assert.deepEqual(lastCronRun('0 2 * * *', at(2)), at(2))
    assert.deepEqual(lastCronRun('0 2 * * *', at(1, 59)), at(2, 0, 0, 24))
  })

  it('a window is HH:MM-HH:MM, may wrap midnight, and may not be empty', () => {
    assert.equal(checkWindow('22:00-06:00'), '22:00-06:00')
    assert.throws(() => checkWindow('22:00-22:00'), /starts and ends at the same minute/)
    assert.throws(() => checkWindow('24:00-06:00'), /--window: not a window: "24:00-06:00"/)
    assert.throws(() => checkWindow('9:00-10:00'), UsageError)
    assert.equal(inWindow('22:00-06:00', at(23)), true)
    assert.equal(inWindow('22:00-06:00', at(5, 59)), true)
    assert.equal(inWindow('22:00-06:00', at(6)), false, 'the end minute is outside')
    assert.equal(inWindow('09:00-17:00', at(9)), true)
  })

  it('the next window start is today when it is still ahead, else tomorrow', () => {
    assert.deepEqual(nextWindowStart('22:00-06:00', at(12)), at(22))
    assert.deepEqual(nextWindowStart('22:00-06:00', at(22)), at(22, 0, 0, 26))
    assert.deepEqual(nextWindowStart('01:30-02:00', at(23)), at(1, 30, 0, 26))
  })
})
