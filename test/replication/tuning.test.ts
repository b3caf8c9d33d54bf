import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { UserError } from '../../src/errors.ts'
import { parseReplicationTuning } from '../../src/replication/tuning.ts'

describe('DRCORE_REPLICATION_TUNING overrides the engine tunables of a daemon', { timeout: 10_000 }, () => {
  test('unset or empty changes nothing', () => {
    assert.deepEqual(parseReplicationTuning(undefined), {})
    assert.deepEqual(parseReplicationTuning('  '), {})
  })

  test('key=integer pairs set those tunables', () => {
    assert.deepEqual(parseReplicationTuning('batchSize=8, flushBytes=4194304,pipeline=3'), { batchSize: 8, flushBytes: 4194304, pipeline: 3 })
  })

  test('an unknown key, a value that is not a positive integer, or a stray word is one clear line', () => {
    for (const bad of ['batchsize=8', 'batchSize=0', 'batchSize=1.5', 'flushBytes=4M', 'batchSize']) {
      assert.throws(() => parseReplicationTuning(bad), (err: Error) => {
        assert.ok(err instanceof UserError)
        assert.match(err.message, /^DRCORE_REPLICATION_TUNING: ".*" is not a setting; use key=integer \(at least 1\), with keys flushBytes, flushIntervalMs, batchSize, pipeline, timeout, ackTimeout$/)
        return true
      }, bad)
    }
  })
})
