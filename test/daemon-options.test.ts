import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { daemonNetworkOptions } from '../src/daemon.ts'
import type { Config } from '../src/repo/index.ts'

const config: Config = { version: 1, name: 'hq', listen: ['/ip4/0.0.0.0/tcp/4101'], api: { host: '127.0.0.1', port: 4100 }, chunking: { minSize: 16384, avgSize: 65536, maxSize: 262144 } }

/** The daemon reads its environment once and hands the network explicit options. */
describe('the daemon\'s network options', { timeout: 10_000 }, () => {
  it('listen where the config says, with the defaults when the environment sets nothing', () => {
    assert.deepEqual(daemonNetworkOptions(config, {}), { listen: ['/ip4/0.0.0.0/tcp/4101'], retryDelays: undefined, engine: {} })
  })

  it('take the retry delays and the engine tunables from DRCORE_RETRY_DELAYS and DRCORE_REPLICATION_TUNING', () => {
    const options = daemonNetworkOptions(config, { DRCORE_RETRY_DELAYS: '500ms,2s', DRCORE_REPLICATION_TUNING: 'batchSize=8,pipeline=3' })
    assert.deepEqual(options, { listen: config.listen, retryDelays: [500, 2000], engine: { batchSize: 8, pipeline: 3 } })
  })

  it('refuse bad tunables in one line', () => {
    assert.throws(() => daemonNetworkOptions(config, { DRCORE_REPLICATION_TUNING: 'batchsize=8' }), /^UserError: DRCORE_REPLICATION_TUNING: "batchsize=8" is not a setting/)
  })
})
