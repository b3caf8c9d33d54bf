import { test } from 'node:test'
import assert from 'node:assert/strict'
import { apiRoutes } from '../../src/http/api.ts'
import type { OperationRunner } from '../../src/http/api.ts'

/**
 * A progress operation (backup, restore, replication now) must outlive its HTTP client: the CLI's
 * `--no-wait` and Ctrl-C close the response while the work goes on in the daemon.
 */
test('a progress operation finishes normally after its client went away', async () => {
  let reportAfterClose!: () => void
  let outcome: Promise<unknown> | undefined
  const runner: OperationRunner = {
    run: async (_name, _input, onProgress) => {
      outcome = (async () => {
        onProgress?.({ phase: 'replicate', done: 1, total: 10, unit: 'bytes' })
        await new Promise<void>(resolve => { reportAfterClose = resolve })
        // the client is gone now: these reports must be dropped, not thrown into the job
        for (let i = 2; i <= 10; i++) onProgress?.({ phase: 'replicate', done: i, total: 10, unit: 'bytes' })
        return { sent: 1 }
      })()
      return await outcome
    }
  }
  const app = apiRoutes(runner, 'secret')
  const res = await app.request('/verify', { method: 'POST', headers: { authorization: 'Bearer secret' } })
  assert.equal(res.status, 200)
  const reader = res.body!.getReader()
  const first = new TextDecoder().decode((await reader.read()).value)
  assert.match(first, /"progress"/)
  await reader.cancel()
  reportAfterClose()
  assert.deepEqual(await outcome, { sent: 1 })
})
