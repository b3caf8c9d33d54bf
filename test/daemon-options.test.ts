import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { daemonNetworkOptions } from '../src/daemon.ts'
import { InvalidInputError } from '../src/errors.ts'
import type { Config } from '../src/repo/index.ts'

const config: Config = { version: 1, name: 'hq', listen: ['/ip4/0.0.0.0/tcp/4101'], api: { host: '127.0.0.1', port: 4100 }, chunking: { minSize: 16384, avgSize: 65536, maxSize: 262144 } }

/** The daemon reads its environment once and hands the network explicit options. */
describe('the daemon\'s network options', { timeout: 10_000 }, () => {
  it('listen where the config says, with the defaults when the environment sets nothing', () => {
    assert.deepEqual(daemonNetworkOptions(config, {}), { listen: ['/ip4/0.0.0.0/tcp/4101'], pruneSchedule: '30 3 * * *', retryDelays: undefined, engine: {} })
  })

  it('take the retry delays and the engine tunables from DRCORE_RETRY_DELAYS and DRCORE_REPLICATION_TUNING', () => {
    const options = daemonNetworkOptions(config, { DRCORE_RETRY_DELAYS: '500ms,2s', DRCORE_REPLICATION_TUNING: 'batchSize=8,pipeline=3' })
    assert.deepEqual(options, { listen: config.listen, pruneSchedule: '30 3 * * *', retryDelays: [500, 2000], engine: { batchSize: 8, pipeline: 3 } })
  })

  it('prune on the config\'s prune.schedule: daily at 03:30 when absent, never when null, a bad one refused in one line', () => {
    assert.equal(daemonNetworkOptions({ ...config, prune: { schedule: '0 1 * * 0' } }, {}).pruneSchedule, '0 1 * * 0')
    assert.equal(daemonNetworkOptions({ ...config, prune: { schedule: null } }, {}).pruneSchedule, null)
    assert.throws(() => daemonNetworkOptions({ ...config, prune: { schedule: 'nightly' } }, {}), (err: Error) => {
      assert.match(err.message, /^prune.schedule "nightly" is not a cron expression/)
      assert.ok(err instanceof InvalidInputError, 'bad input (400), not a refusal')
      assert.doesNotMatch(err.message, /\n/)
      return true
    })
  })

  it('refuse bad tunables in one line', () => {
    assert.throws(() => daemonNetworkOptions(config, { DRCORE_REPLICATION_TUNING: 'batchsize=8' }), /^InvalidInputError: DRCORE_REPLICATION_TUNING: "batchsize=8" is not a setting/)
  })
})
