import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { buildOverview, POINTS_SHOWN } from '../../src/status/index.ts'
import type { OverviewSources } from '../../src/status/index.ts'
import type { PointRecord } from '../../src/points/api.ts'
import type { PeerInfo } from '../../src/peers/index.ts'

const SELF = '12D3KooWSelf'
const B = '12D3KooWPeerB'
/** a peer as results name it (the overview finds no name for these) */
const ref = (peerId: string): { peerId: string, name: string | null } => ({ peerId, name: null })
const C = '12D3KooWPeerC'

function point (machine: string, seq: number, opts: Partial<PointRecord> = {}): PointRecord {
  return {
    point: `${machine}-${opts.tenant ?? ''}-${seq}`,
    machine,
    cluster: null,
    origin: SELF,
    tenant: '',
    seq,
    kind: seq === 1 ? 'base' : 'incremental',
    parent: seq === 1 ? null : `${machine}-${opts.tenant ?? ''}-${seq - 1}`,
    createdAt: new Date(Date.UTC(2026, 0, 1, seq)).toISOString(),
    complete: true,
    missing: 0,
    volumes: { root: { root: 'bafy', type: 'dir', files: 10, bytes: 1000 } },
    ...opts
  }
}

function peer (peerId: string, opts: Partial<PeerInfo> = {}): PeerInfo {
  return { peerId, name: null, state: 'approved', tenant: null, online: true, addresses: [], accepts: true, canSendTo: true, announcedName: null, requestedAt: null, askedAt: null, ...opts }
}

function sources (opts: Partial<OverviewSources> & { records?: PointRecord[] } = {}): OverviewSources {
  const records = opts.records ?? []
  return {
    peerId: SELF,
    name: 'hq',
    online: true,
    addresses: [],
    stats: async () => ({ blocks: 10, rawBytes: 1500, storedBytes: 500, packs: 1, packBytes: 600, measuredAt: '2026-01-01T00:00:00.000Z' }),
    points: { all: async () => records },
    peers: [],
    deniedByUs: () => false,
    rules: [],
    seeds: [],
    retention: { default: null, machines: [] },
    tenants: [],
    now: new Date(Date.UTC(2026, 0, 2)),
    ...opts
  }
}

describe('the overview of a Core', () => {
  test('groups points into chains per tenant, origin and machine, oldest first, and counts orphans', async () => {
    const records = [
      point('web01', 2), point('web01', 1), point('web01', 3),
      point('db01', 1, { origin: B, tenant: 'siteB', complete: false, missing: 7, receivedFrom: B }),
      point('db01', 2, { origin: B, tenant: 'siteB', receivedFrom: B })
    ]
    const o = await buildOverview(sources({ records, peers: [peer(B, { name: 'siteB' })] }))
    assert.deepEqual(o.machines.map(m => [m.machine, m.direction, m.pointCount, m.complete, m.orphans]), [
      ['web01', 'local', 3, 3, 0],
      ['db01', 'incoming', 2, 1, 1]
    ])
    assert.deepEqual(o.machines[0].points.map(p => p.seq), [1, 2, 3])
    assert.deepEqual(o.machines[0].points.map(p => p.kind), ['base', 'incremental', 'incremental'])
    assert.deepEqual(o.machines[0].origin, { peerId: SELF, name: 'hq' })
    assert.deepEqual(o.machines[1].origin, { peerId: B, name: 'siteB' })
    assert.deepEqual(o.machines[1].receivedFrom, { peerId: B, name: 'siteB' })
    assert.equal(o.machines[1].points[0].missingBlocks, 7)
  })

  test('shows the newest points of a long chain and still counts them all', async () => {
    const records = Array.from({ length: POINTS_SHOWN + 30 }, (_, i) => point('web01', i + 1))
    const o = await buildOverview(sources({ records }))
    assert.equal(o.machines[0].pointCount, POINTS_SHOWN + 30)
    assert.equal(o.machines[0].points.length, POINTS_SHOWN)
    assert.equal(o.machines[0].points.at(-1)?.seq, POINTS_SHOWN + 30)
  })

  test('deduplication ratio is logical bytes over unique raw bytes; a point held for two tenants counts once', async () => {
    const records = [point('web01', 1), point('web01', 2), point('web01', 2, { tenant: 'other', point: 'web01--2' })]
    const o = await buildOverview(sources({ records }))
    assert.equal(o.repository.logicalBytes, 2000)
    assert.equal(o.repository.dedupRatio, 1.33)
    assert.equal(o.repository.compressionRatio, 3)
    assert.equal(o.repository.reductionRatio, 4)
    const empty = await buildOverview(sources({ stats: async () => ({ blocks: 0, rawBytes: 0, storedBytes: 0, packs: 0, packBytes: 0, measuredAt: '' }) }))
    assert.equal(empty.repository.dedupRatio, null)
  })

  test('peer health: green connected, yellow paused or awaiting a decision, red denied or failing, grey offline', async () => {
    const D = '12D3KooWPeerD'
    const E = '12D3KooWPeerE'
    const F = '12D3KooWPeerF'
    const peers = [
      peer(B, { name: 'ok' }),
      peer(C, { name: 'paused' }),
      peer(D, { name: 'denied', state: 'denied', accepts: false, canSendTo: false }),
      peer(E, { name: 'away', online: false }),
      peer(F, { name: 'asks', state: 'pending', accepts: false, canSendTo: false })
    ]
    const rule = { schedule: 'after-backup', lastPoint: null, bytesSent: 0, error: null }
    const o = await buildOverview(sources({
      peers,
      deniedByUs: id => id === D,
      rules: [{ ...rule, machine: 'web01', to: ref(B), state: 'idle' }, { ...rule, machine: 'web01', to: ref(C), state: 'paused', paused: true }]
    }))
    assert.deepEqual(o.peers.map(p => [p.name, p.health]), [['ok', 'connected'], ['paused', 'paused'], ['denied', 'error'], ['away', 'offline'], ['asks', 'paused']])
    assert.equal(o.peers[2].healthReason, 'denied by this Core')
    assert.equal(o.pendingRequests, 1)
    const failing = await buildOverview(sources({ peers: [peer(B)], rules: [{ ...rule, machine: 'web01', to: ref(B), state: 'error', error: 'peer B has not approved this Core' }] }))
    assert.deepEqual([failing.peers[0].health, failing.peers[0].healthReason], ['error', 'peer B has not approved this Core'])
  })

  test('replication lag is the age of the newest point not on the target, 0 when it has them all', async () => {
    const records = [point('web01', 1), point('web01', 2)]
    const rule = { machine: 'web01', to: ref(B), state: 'idle', schedule: 'after-backup', bytesSent: 0, error: null }
    const behind = await buildOverview(sources({ records, rules: [{ ...rule, lastPoint: 'web01--1', pointsBehind: 1 }] }))
    // the newest point was taken at 02:00 on Jan 1st; now is midnight on Jan 2nd
    assert.equal(behind.rules[0].lagSeconds, 22 * 3600)
    const upToDate = await buildOverview(sources({ records, rules: [{ ...rule, lastPoint: 'web01--2', pointsBehind: 0 }] }))
    assert.equal(upToDate.rules[0].lagSeconds, 0)
    const noMachine = await buildOverview(sources({ records, rules: [{ ...rule, machine: 'nothing', lastPoint: null }] }))
    assert.equal(noMachine.rules[0].lagSeconds, null)
  })
  test('a forgotten parent shows as absent, and each machine carries its policy, next rollup and lock; tenants carry quota and lock', async () => {
    const records = [point('web01', 2), point('web01', 3)]
    const tenant = { tenant: 'siteB', peers: [], points: 0, storedBytes: 10, quota: 100, retentionLock: '30d', blocks: 1, lockedPoints: 0, lockedUntil: null }
    const o = await buildOverview(sources({
      records,
      retention: {
        default: { keepLast: 1 },
        machines: [{ machine: 'web01', tenant: '', origin: ref(SELF), policy: { keepLast: 1 }, policySource: 'default', points: 2, wouldRemove: ['web01--2'], locked: 0, lockedUntil: null }]
      },
      tenants: [tenant]
    }))
    const web = o.machines[0]
    assert.deepEqual(web.points.map(p => p.parentPresent), [false, true])
    assert.deepEqual(web.retention.wouldRemove, ['web01--2'])
    assert.equal(web.retention.policySource, 'default')
    assert.deepEqual(o.defaultPolicy, { keepLast: 1 })
    assert.deepEqual(o.tenants, [tenant])
  })
})
