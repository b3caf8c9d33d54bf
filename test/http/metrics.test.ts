import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { OfflineCore } from '../../src/core/index.ts'
import { initRepository } from '../../src/repo/index.ts'
import { httpApp } from '../../src/http/server.ts'
import type { HttpApp } from '../../src/http/server.ts'
import { tempDir, removeDir } from '../support/dirs.ts'
import { jobFailed, jobFinished } from '../support/events.ts'

const TOKEN = 'm'.repeat(32)

interface Sample { name: string, labels: Record<string, string>, value: number }
interface Family { name: string, help: string, type: string, samples: Sample[] }

/**
 * A parser for the Prometheus text exposition format 0.0.4, strict about what Prometheus
 * rejects: metric and label names, label value escapes, values, one HELP and TYPE per family
 * before its samples, no family split in two, samples named after their family.
 */
function parseExposition (text: string): Map<string, Family> {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline')
  const families = new Map<string, Family>()
  let current: Family | undefined
  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
  for (const [i, line] of text.slice(0, -1).split('\n').entries()) {
    const where = `line ${i + 1}: ${line}`
    if (line.startsWith('# HELP ')) {
      const [, name, help] = /^# HELP (\S+) (.*)$/.exec(line) ?? assert.fail(where)
      assert.match(name, NAME, where)
      assert.ok(!families.has(name), `${where}: family ${name} appears twice`)
      current = { name, help, type: 'untyped', samples: [] }
      families.set(name, current)
    } else if (line.startsWith('# TYPE ')) {
      const [, name, type] = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line) ?? assert.fail(where)
      assert.equal(name, current?.name, `${where}: TYPE follows its HELP`)
      assert.equal(current!.samples.length, 0, `${where}: TYPE before samples`)
      current!.type = type
    } else if (line.startsWith('#') || line === '') {
      continue
    } else {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line) ?? assert.fail(`${where}: not a sample`)
      const [, name, , labelText, valueText] = m
      assert.equal(name, current?.name, `${where}: sample of the current family`)
      const labels: Record<string, string> = {}
      if (labelText != null && labelText !== '') {
        const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y
        let at = 0
        while (at < labelText.length) {
          LABEL.lastIndex = at
          const l = LABEL.exec(labelText) ?? assert.fail(`${where}: bad label at ${at}`)
          assert.ok(!(l[1] in labels), `${where}: label ${l[1]} twice`)
          labels[l[1]] = l[2].replace(/\\(["\\n])/g, (_, c: string) => c === 'n' ? '\n' : c)
          at = LABEL.lastIndex
        }
      }
      assert.match(valueText, /^(NaN|[+-]Inf|-?\d+(\.\d+)?(e[+-]?\d+)?)$/, `${where}: value`)
      current!.samples.push({ name, labels, value: Number(valueText.replace('Inf', 'Infinity')) })
    }
  }
  for (const f of families.values()) {
    if (f.type === 'counter') assert.match(f.name, /_total$/, `counter ${f.name} ends in _total`)
  }
  return families
}

describe('/metrics', { timeout: 30_000 }, () => {
  let work: string
  let core: OfflineCore
  let http: HttpApp
  const scrape = async (): Promise<Map<string, Family>> => {
    const res = await http.app.request('/metrics', { headers: { authorization: `Bearer ${TOKEN}` } })
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
    return parseExposition(await res.text())
  }
  const value = (families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined =>
    families.get(name)?.samples.find(s => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value

  before(async () => {
    work = await tempDir()
    await initRepository(join(work, 'repo'), { name: 'hq "main"', apiPort: 0 })
    core = await OfflineCore.open(join(work, 'repo'))
    http = httpApp(core, TOKEN)
    const tree = join(work, 'tree')
    await mkdir(tree)
    await writeFile(join(tree, 'a.bin'), Buffer.alloc(100_000, 7))
    await writeFile(join(tree, 'b.bin'), Buffer.alloc(100_000, 7))
    await core.run('backup', { machine: 'web01', volumes: [{ name: 'data', path: tree }] })
  })
  after(async () => {
    http.close()
    await core.close()
    await removeDir(work)
  })

  test('needs the token like every other route', async () => {
    const res = await http.app.request('/metrics')
    assert.equal(res.status, 401)
  })

  test('parses as Prometheus text format with HELP and TYPE for every family', async () => {
    const families = await scrape()
    for (const name of ['drcore_info', 'drcore_repository_logical_bytes', 'drcore_repository_stored_bytes', 'drcore_repository_blocks',
      'drcore_repository_dedup_ratio', 'drcore_points', 'drcore_peers', 'drcore_pairing_requests_pending',
      'drcore_replication_sent_bytes_total', 'drcore_replication_sent_blocks_total', 'drcore_replication_jobs_total',
      'drcore_replication_lag_seconds']) {
      const f = families.get(name)
      assert.ok(f != null, `${name} is exposed`)
      assert.ok(f.help.length > 0)
      assert.notEqual(f.type, 'untyped')
    }
    assert.equal(families.get('drcore_info')!.samples[0].labels.name, 'hq "main"', 'label values are escaped and round-trip')
  })

  test('repository size, deduplication and points reflect the repository', async () => {
    const families = await scrape()
    assert.equal(value(families, 'drcore_repository_logical_bytes'), 200_000)
    assert.ok(value(families, 'drcore_repository_dedup_ratio')! > 1.5, 'two identical files are stored once')
    assert.equal(value(families, 'drcore_points', { machine: 'web01', state: 'complete' }), 1)
    assert.equal(value(families, 'drcore_points', { machine: 'web01', state: 'orphan' }), 0)
    assert.equal(value(families, 'drcore_pairing_requests_pending'), 0)
  })

  test('per rule: bytes and blocks sent, jobs by outcome, lag of the newest point not on the target', async () => {
    const to = '12D3KooWDsD1xN7bY3EvbbUE9rYJm5NGuW1dR9JHn7HzpZ3cYxe2'
    await core.rules.add({ machine: 'web01', to })
    await core.rules.update('web01', to, r => { r.bytesSent = 12345 })
    core.events.emit('replication.finished', 'sent', jobFinished('web01', to, { bytes: 12345, blocks: 7 }))
    core.events.emit('replication.failed', 'failed', jobFailed('web01', to, 'offline'), 'error')
    core.events.emit('replication.failed', 'failed', jobFailed('web01', to, 'offline'), 'error')
    core.events.emit('replication.failed', 'cancelled', jobFailed('web01', to, 'cancelled'), 'warning')
    const families = await scrape()
    const rule = { machine: 'web01', to }
    assert.equal(value(families, 'drcore_replication_sent_bytes_total', rule), 12345)
    assert.equal(value(families, 'drcore_replication_sent_blocks_total', rule), 7)
    assert.equal(value(families, 'drcore_replication_jobs_total', { ...rule, outcome: 'success' }), 1)
    assert.equal(value(families, 'drcore_replication_jobs_total', { ...rule, outcome: 'failure' }), 2)
    assert.equal(value(families, 'drcore_replication_jobs_total', { ...rule, outcome: 'cancelled' }), 1)
    const lag = value(families, 'drcore_replication_lag_seconds', rule)!
    assert.ok(lag >= 0 && lag < 120, `the newest point is not on the target yet and is seconds old: ${lag}`)
  })
  test('events the event log could not store are counted', async () => {
    const before = value(await scrape(), 'drcore_event_log_write_failures_total')
    assert.equal(before, 0)
    const full = (): void => { throw new Error('No space left on device') }
    core.files.db.hooks.prewrite.add(full)
    try {
      core.events.emit('verify.finished', 'repository verified', { blocks: 1, corrupt: 0, quarantined: 0, lost: 0 })
      core.events.emit('verify.finished', 'repository verified', { blocks: 1, corrupt: 0, quarantined: 0, lost: 0 })
      await core.events.flush()
    } finally {
      core.files.db.hooks.prewrite.delete(full)
    }
    assert.equal(value(await scrape(), 'drcore_event_log_write_failures_total'), 2)
  })
})

describe('/metrics of a repository whose packs are in an object store', { timeout: 10_000 }, () => {
  test('requests and failures by operation, retries, bytes up and down and the cache, labelled with the bucket; none for local packs', async () => {
    const { renderMetrics } = await import('../../src/http/metrics.ts')
    const { EventLog } = await import('../../src/events/log.ts')
    const work = await tempDir()
    const { Level } = await import('level')
    const db = new Level<string, any>(join(work, 'db'))
    try {
      const jobs = new (await import('../../src/http/metrics.ts')).JobCounters(new EventLog(db))
      const repository = { blocks: 1, logicalBytes: 1, rawBytes: 1, storedBytes: 1, packs: 1, packBytes: 1, dedupRatio: 1, compressionRatio: 1, reductionRatio: 1, measuredAt: '' }
      const overview = { core: { peerId: 'p', name: 'n', online: true, addresses: [] }, generatedAt: '', machines: [], peers: [], pendingRequests: 0, rules: [], seeds: [] }
      const objectStore = { kind: 's3' as const, location: 's3://dr/hq', requests: { PutObjectCommand: 4, GetObjectCommand: 9 }, errors: { GetObjectCommand: 1 }, retries: 3, bytesUploaded: 1000, bytesDownloaded: 2000, cache: { bytes: 500, limit: 4096, hits: 7, misses: 2 } }
      const families = parseExposition(renderMetrics({ ...overview, repository: { ...repository, objectStore } } as any, jobs, { writeFailures: 0 }))
      const value = (name: string, labels: Record<string, string>): number | undefined =>
        families.get(name)?.samples.find(s => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value
      const at = { location: 's3://dr/hq' }
      assert.equal(value('drcore_object_store_requests_total', { ...at, operation: 'GetObjectCommand' }), 9)
      assert.equal(value('drcore_object_store_requests_total', { ...at, operation: 'PutObjectCommand' }), 4)
      assert.equal(value('drcore_object_store_errors_total', { ...at, operation: 'GetObjectCommand' }), 1)
      assert.equal(value('drcore_object_store_retries_total', at), 3)
      assert.equal(value('drcore_object_store_bytes_total', { ...at, direction: 'up' }), 1000)
      assert.equal(value('drcore_object_store_bytes_total', { ...at, direction: 'down' }), 2000)
      assert.equal(value('drcore_object_store_cache_bytes', at), 500)
      assert.equal(value('drcore_object_store_cache_reads_total', { ...at, result: 'hit' }), 7)
      const local = parseExposition(renderMetrics({ ...overview, repository } as any, jobs, { writeFailures: 0 }))
      assert.equal([...local.keys()].filter(k => k.startsWith('drcore_object_store')).length, 0)
    } finally {
      await db.close()
      await removeDir(work)
    }
  })
})
