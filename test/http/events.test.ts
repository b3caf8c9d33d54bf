import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { OfflineCore } from '../../src/core/index.ts'
import { initRepository } from '../../src/repo/index.ts'
import { httpApp } from '../../src/http/server.ts'
import type { HttpApp } from '../../src/http/server.ts'
import { tempDir, removeDir } from '../support/dirs.ts'
import { backupFinished, jobProgress, pairing } from '../support/events.ts'

const TOKEN = 't'.repeat(32)

/** Reads SSE messages from a response until `count` data messages arrived. */
async function readMessages (res: Response, count: number): Promise<Array<{ id?: string, data: any }>> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  const out: Array<{ id?: string, data: any }> = []
  let buffered = ''
  const deadline = setTimeout(() => { void reader.cancel() }, 5000)
  try {
    while (out.length < count) {
      const { value, done } = await reader.read()
      if (done) break
      buffered += value
      let end: number
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const block = buffered.slice(0, end)
        buffered = buffered.slice(end + 2)
        const fields = Object.fromEntries(block.split('\n').filter(l => !l.startsWith(':')).map(l => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]))
        if (fields.data != null) out.push({ id: fields.id, data: JSON.parse(fields.data) })
      }
    }
  } finally {
    clearTimeout(deadline)
    await reader.cancel().catch(() => {})
  }
  return out
}

describe('the live event stream and the console routes', () => {
  let work: string
  let core: OfflineCore
  let http: HttpApp
  before(async () => {
    work = await tempDir()
    await initRepository(join(work, 'repo'), { name: 'hq', apiPort: 0 })
    core = await OfflineCore.open(join(work, 'repo'))
    http = httpApp(core, TOKEN)
  })
  after(async () => {
    http.close()
    await core.close()
    await removeDir(work)
  })

  const stream = async (headers: Record<string, string> = {}, query = ''): Promise<Response> =>
    await http.app.request(`/api/v1/events/stream${query}`, { headers: { authorization: `Bearer ${TOKEN}`, ...headers } })

  test('new events arrive as server-sent events with their sequence number as id; progress carries no id', async () => {
    const res = await stream()
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/)
    const reading = readMessages(res, 2)
    await new Promise(resolve => setTimeout(resolve, 20))
    core.events.publish('replication.progress', 'sending', jobProgress('web01', 'x', 10))
    core.events.emit('backup.finished', 'recovery point of web01 taken', backupFinished('web01'))
    const messages = await reading
    assert.equal(messages[0].id, undefined)
    assert.equal(messages[0].data.type, 'replication.progress')
    assert.equal(messages[0].data.data.bytesSent, 10)
    assert.equal(messages[1].data.type, 'backup.finished')
    assert.equal(messages[1].id, String(messages[1].data.seq))
  })

  test('a reconnecting client gets the stored events after its Last-Event-ID first, then live ones, each once', async () => {
    core.events.emit('pairing.requested', 'peer x asks to pair', pairing('x', 'remote'))
    core.events.emit('pairing.approved', 'approved peer x', pairing('x'))
    const stored = await core.events.list({ limit: 3 })
    const since = stored[0].seq
    const res = await stream({ 'last-event-id': String(since) }, '?since=0')
    const reading = readMessages(res, 3)
    await new Promise(resolve => setTimeout(resolve, 50))
    core.events.emit('peer.removed', 'removed peer x', pairing('x'))
    const messages = await reading
    assert.deepEqual(messages.map(m => m.data.type), ['pairing.requested', 'pairing.approved', 'peer.removed'])
    assert.deepEqual(messages.map(m => Number(m.id)), [since + 1, since + 2, since + 3])
  })

  test('a since that is not a sequence number is a 400', async () => {
    const res = await stream({}, '?since=yesterday')
    assert.equal(res.status, 400)
    assert.match(((await res.json()) as any).error.message, /sequence number/)
  })

  test('closing the server ends every open stream and refuses new ones', async () => {
    const res = await stream()
    const reader = res.body!.getReader()
    await reader.read()
    http.close()
    let done = false
    while (!done) done = (await reader.read()).done
    assert.equal(done, true)
    const again = await stream()
    assert.equal(again.status, 503, 'a browser reconnecting while the server stops is turned away')
    http = httpApp(core, TOKEN)
  })

  test('the login link sets an HttpOnly SameSite=Strict cookie and sends the browser to the console', async () => {
    const res = await http.app.request(`http://127.0.0.1:4711/login?token=${TOKEN}`)
    assert.equal(res.status, 303)
    assert.equal(res.headers.get('location'), '/')
    const cookie = res.headers.get('set-cookie') ?? ''
    assert.match(cookie, new RegExp(`^drcore_token_4711=${TOKEN};`), 'named after the port: two Cores on one host keep their own cookies')
    assert.match(cookie, /HttpOnly/)
    assert.match(cookie, /SameSite=Strict/)
    assert.match(cookie, /Path=\//)
    for (const name of ['drcore_token_4711', 'drcore_token']) {
      const status = await http.app.request('/api/v1/status', { headers: { cookie: `drcore_token_4712=another-cores-token; ${name}=${TOKEN}` } })
      assert.equal(status.status, 200, name)
    }
  })

  test('a wrong login link sets no cookie', async () => {
    const res = await http.app.request('/login?token=nope')
    assert.equal(res.status, 401)
    assert.equal(res.headers.get('set-cookie'), null)
    assert.match(await res.text(), /Wrong or old token/)
  })

  test('the console page is served without scripts from elsewhere, inline scripts or framing', async () => {
    const res = await http.app.request('/')
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /text\/html/)
    const csp = res.headers.get('content-security-policy') ?? ''
    assert.match(csp, /script-src 'self'/)
    assert.match(csp, /frame-ancestors 'none'/)
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer')
    const html = await res.text()
    assert.match(html, /<script type="module" src="\/app.js"><\/script>/)
    assert.doesNotMatch(html, /<script>/)
    for (const asset of ['/app.js', '/app.css']) {
      const a = await http.app.request(asset)
      assert.equal(a.status, 200)
      const again = await http.app.request(asset, { headers: { 'if-none-match': a.headers.get('etag')! } })
      assert.equal(again.status, 304)
    }
    const missing = await http.app.request('/nothing-here')
    assert.equal(missing.status, 404)
  })
})
