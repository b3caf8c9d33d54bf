import type { EventSource } from '../events/api.ts'
import type { Overview } from '../status/index.ts'

type Outcome = 'success' | 'failure' | 'cancelled'

/**
 * Counts replication jobs by rule and outcome, and the blocks they sent, from the events of the
 * running daemon. Like every Prometheus counter they start at 0 when the process starts; byte
 * counters come from the rules themselves and survive restarts.
 */
export class JobCounters {
  readonly #jobs = new Map<string, { machine: string, to: string, outcome: string, count: number }>()
  readonly #blocks = new Map<string, number>()
  readonly #stop: Array<() => void>

  constructor (log: EventSource) {
    this.#stop = [
      log.on('replication.finished', e => { this.#count(e.data.machine, e.data.to, 'success', e.data.blocks) }),
      // the engine reports a cancelled job (paused, removed, stopping) as failed with this error
      log.on('replication.failed', e => { this.#count(e.data.machine, e.data.to, e.data.error === 'cancelled' ? 'cancelled' : 'failure', 0) })
    ]
  }

  jobs (): Array<{ machine: string, to: string, outcome: string, count: number }> {
    return [...this.#jobs.values()]
  }

  blocksSent (machine: string, to: string): number {
    return this.#blocks.get(key(machine, to)) ?? 0
  }

  stop (): void {
    for (const stop of this.#stop) stop()
  }

  #count (machine: string, to: string, outcome: Outcome, blocks: number): void {
    const k = `${key(machine, to)}\u0000${outcome}`
    const entry = this.#jobs.get(k) ?? { machine, to, outcome, count: 0 }
    entry.count++
    this.#jobs.set(k, entry)
    if (blocks > 0) this.#blocks.set(key(machine, to), this.blocksSent(machine, to) + blocks)
  }
}

function key (machine: string, to: string): string {
  return `${machine}\u0000${to}`
}

type Labels = Record<string, string>

/** Builds one exposition: families in order, each with HELP and TYPE once. */
class Exposition {
  readonly #lines: string[] = []

  family (name: string, type: 'gauge' | 'counter', help: string, samples: Array<[Labels, number]>): void {
    this.#lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`)
    this.#lines.push(`# TYPE ${name} ${type}`)
    for (const [labels, value] of samples) this.#lines.push(`${name}${formatLabels(labels)} ${formatValue(value)}`)
  }

  text (): string {
    return this.#lines.join('\n') + '\n'
  }
}

function formatLabels (labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
  return parts.length === 0 ? '' : `{${parts.join(',')}}`
}

function formatValue (v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Infinity) return '+Inf'
  if (v === -Infinity) return '-Inf'
  return String(v)
}

/**
 * `/metrics` in the Prometheus text exposition format (version 0.0.4). Everything an operator
 * alerts on: repository size, points and orphans, peers by health, pending pairing requests,
 * per replication rule the bytes and blocks sent, jobs by outcome, lag and points behind, and
 * events the event log could not store.
 */
export function renderMetrics (o: Overview, jobs: JobCounters, log: { readonly writeFailures: number }): string {
  const m = new Exposition()
  const rule = (r: { machine: string, to: { peerId: string, name: string | null } }): Labels => ({ machine: r.machine, to: r.to.peerId, to_name: r.to.name ?? '' })

  m.family('drcore_info', 'gauge', 'This Core: name and peer id (always 1).', [[{ name: o.core.name, peer_id: o.core.peerId }, 1]])
  m.family('drcore_repository_logical_bytes', 'gauge', 'File bytes of every distinct recovery point, as if each were a full copy.', [[{}, o.repository.logicalBytes]])
  m.family('drcore_repository_raw_bytes', 'gauge', 'Bytes of the unique blocks before compression.', [[{}, o.repository.rawBytes]])
  m.family('drcore_repository_stored_bytes', 'gauge', 'Bytes of the unique blocks in pack files after compression.', [[{}, o.repository.storedBytes]])
  m.family('drcore_repository_pack_bytes', 'gauge', 'Bytes of all pack files on disk.', [[{}, o.repository.packBytes]])
  m.family('drcore_repository_blocks', 'gauge', 'Blocks in the repository.', [[{}, o.repository.blocks]])
  const s3 = o.repository.objectStore
  if (s3 !== undefined) {
    const bucket = { location: s3.location }
    m.family('drcore_object_store_requests_total', 'counter', 'Requests sent to the object store holding the packs, by operation, since the Core started.', Object.entries(s3.requests).map(([op, n]) => [{ ...bucket, operation: op }, n]))
    m.family('drcore_object_store_errors_total', 'counter', 'Object store requests that failed after their retries, by operation.', Object.entries(s3.errors).map(([op, n]) => [{ ...bucket, operation: op }, n]))
    m.family('drcore_object_store_retries_total', 'counter', 'Object store requests retried (throttling, timeouts, resets).', [[bucket, s3.retries]])
    m.family('drcore_object_store_bytes_total', 'counter', 'Pack bytes uploaded to and downloaded from the object store.', [[{ ...bucket, direction: 'up' }, s3.bytesUploaded], [{ ...bucket, direction: 'down' }, s3.bytesDownloaded]])
    m.family('drcore_object_store_cache_bytes', 'gauge', 'Bytes of pack segments held in the read cache.', [[bucket, s3.cache.bytes]])
    m.family('drcore_object_store_cache_reads_total', 'counter', 'Segment reads of the cache, by result.', [[{ ...bucket, result: 'hit' }, s3.cache.hits], [{ ...bucket, result: 'miss' }, s3.cache.misses]])
  }
  m.family('drcore_repository_dedup_ratio', 'gauge', 'Logical bytes over unique raw block bytes (NaN while empty).', [[{}, o.repository.dedupRatio ?? NaN]])
  m.family('drcore_machines', 'gauge', 'Machines with recovery points here, by direction.', [
    [{ direction: 'local' }, o.machines.filter(x => x.direction === 'local').length],
    [{ direction: 'incoming' }, o.machines.filter(x => x.direction === 'incoming').length]
  ])
  m.family('drcore_points', 'gauge', 'Recovery points per machine, complete or orphan.', o.machines.flatMap(x => {
    const labels = { machine: x.machine, tenant: x.tenant, origin: x.origin.peerId }
    return [[{ ...labels, state: 'complete' }, x.complete], [{ ...labels, state: 'orphan' }, x.orphans]] as Array<[Labels, number]>
  }))
  m.family('drcore_peers', 'gauge', 'Known peers by health (connected, paused, error, offline).', (['connected', 'paused', 'error', 'offline'] as const)
    .map(h => [{ health: h }, o.peers.filter(p => p.health === h).length]))
  m.family('drcore_pairing_requests_pending', 'gauge', 'Pairing requests waiting for a decision on this Core.', [[{}, o.pendingRequests]])
  m.family('drcore_replication_sent_bytes_total', 'counter', 'Bytes sent by each replication rule since it was created.', o.rules.map(r => [rule(r), r.bytesSent]))
  m.family('drcore_replication_sent_blocks_total', 'counter', 'Blocks sent by each replication rule.', o.rules.map(r => [rule(r), r.blocksSent ?? jobs.blocksSent(r.machine, r.to.peerId)]))
  m.family('drcore_replication_jobs_total', 'counter', 'Replication jobs since the daemon started, by rule and outcome (success, failure, cancelled).',
    jobs.jobs().map(j => [{ machine: j.machine, to: j.to, outcome: j.outcome }, j.count]))
  m.family('drcore_replication_lag_seconds', 'gauge', 'Age of the newest point of the rule\'s machine not yet on the target; 0 when up to date.',
    o.rules.filter(r => r.lagSeconds != null).map(r => [rule(r), r.lagSeconds!]))
  m.family('drcore_replication_points_behind', 'gauge', 'Points of the rule\'s machine not yet on the target.',
    o.rules.filter(r => r.pointsBehind != null).map(r => [rule(r), r.pointsBehind!]))
  m.family('drcore_replication_rule_up', 'gauge', '1 when a rule is neither paused nor failing.',
    o.rules.map(r => [{ ...rule(r), state: r.state }, r.state === 'paused' || r.state === 'error' || r.paused === true ? 0 : 1]))
  m.family('drcore_event_log_write_failures_total', 'counter', 'Events the event log could not store (or old ones it could not remove) since the daemon started; the first of each run is told on stderr.',
    [[{}, log.writeFailures]])
  m.family('drcore_seed_drives', 'gauge', 'Seed drives by direction and state.', seedCounts(o))
  return m.text()
}

function seedCounts (o: Overview): Array<[Labels, number]> {
  const counts = new Map<string, number>()
  for (const s of o.seeds) counts.set(`${s.direction}\u0000${s.state}`, (counts.get(`${s.direction}\u0000${s.state}`) ?? 0) + 1)
  return [...counts].map(([k, n]) => {
    const [direction, state] = k.split('\u0000')
    return [{ direction, state }, n]
  })
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'
