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
  const lines = linesOf(res.body!)
  assert.match((await lines.next()).value, /^\{"operation":"[0-9a-f-]{36}"\}$/, 'the stream begins with the operation\'s id')
  assert.match((await lines.next()).value, /"progress"/)
  await lines.return(undefined)
  reportAfterClose()
  assert.deepEqual(await outcome, { sent: 1 })
})

/** The NDJSON lines of a response body. */
async function * linesOf (body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder()
  let buffered = ''
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true })
    let nl: number
    while ((nl = buffered.indexOf('\n')) >= 0) {
      yield buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
    }
  }
}

test('POST /operations/{id}/cancel stops a progress operation at its next report; the stream ends with CancelledError', async () => {
  let reported!: () => void
  const second = new Promise<void>(resolve => { reported = resolve })
  let proceed!: () => void
  const runner: OperationRunner = {
    run: async (_name, _input, onProgress) => {
      onProgress?.({ phase: 'backup', done: 1, total: 10, unit: 'bytes' })
      reported()
      await new Promise<void>(resolve => { proceed = resolve })
      onProgress?.({ phase: 'backup', done: 2, total: 10, unit: 'bytes' })
      return { finished: true }
    }
  }
  const app = apiRoutes(runner, 'secret')
  const auth = { authorization: 'Bearer secret' }
  const res = await app.request('/verify', { method: 'POST', headers: auth })
  const lines = linesOf(res.body!)
  const { operation } = JSON.parse((await lines.next()).value)
  await second
  const cancel = await app.request(`/operations/${operation as string}/cancel`, { method: 'POST', headers: auth })
  assert.equal(cancel.status, 202)
  proceed()
  const rest: any[] = []
  for await (const line of lines) rest.push(JSON.parse(line))
  assert.deepEqual(rest.at(-1), { error: { name: 'CancelledError', message: 'verify was cancelled', exitCode: 130, kind: 'refused' } })
  assert.equal(rest.some(l => 'result' in l), false)
  const gone = await app.request(`/operations/${operation as string}/cancel`, { method: 'POST', headers: auth })
  assert.equal(gone.status, 404, 'an operation that ended cannot be cancelled')
  assert.equal(((await gone.json()) as any).error.kind, 'not-found')
  assert.equal((await app.request(`/operations/${operation as string}/cancel`, { method: 'POST' })).status, 401, 'cancelling needs the token')
})

test('a replication job (ruleNow) is not cancelled through the API: it belongs to its rule', async () => {
  let proceed!: () => void
  let started!: () => void
  const running = new Promise<void>(resolve => { started = resolve })
  const runner: OperationRunner = {
    run: async (_name, _input, onProgress) => {
      started()
      await new Promise<void>(resolve => { proceed = resolve })
      onProgress?.({ phase: 'replicate', done: 1, total: 1, unit: 'bytes' })
      return { sent: [] }
    }
  }
  const app = apiRoutes(runner, 'secret')
  const auth = { authorization: 'Bearer secret' }
  const res = await app.request('/replication/web01/dr/now', { method: 'POST', headers: auth })
  const lines = linesOf(res.body!)
  const { operation } = JSON.parse((await lines.next()).value)
  await running
  assert.equal((await app.request(`/operations/${operation as string}/cancel`, { method: 'POST', headers: auth })).status, 404)
  proceed()
  const rest: any[] = []
  for await (const line of lines) rest.push(JSON.parse(line))
  assert.deepEqual(rest.at(-1), { result: { sent: [] } })
})
