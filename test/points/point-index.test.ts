import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { NotFoundError } from '../../src/errors.ts'
import { AmbiguousNameError } from '../../src/points/errors.ts'
import { cborBlock } from '../../src/points/blocks.ts'
import { signManifest } from '../../src/points/manifest.ts'
import { pointRecord } from '../../src/points/point-index.ts'
import { machineRow, pointRow } from '../../src/points/rows.ts'
import { unnamed } from '../../src/api/peer-ref.ts'
import type { PointRecord, SignedPoint } from '../../src/points/api.ts'
import { testRepo } from '../helpers/backup-deps.ts'
import type { TestRepo } from '../helpers/backup-deps.ts'

describe('the point index', () => {
  let repo: TestRepo
  let self: string
  let remote: { privateKey: any, origin: string }
  const chain: SignedPoint[] = []
  const root = cborBlock({ type: 'dir', entries: [] }).cid

  async function point (privateKey: any, machine: string, seq: number, parent: SignedPoint | null): Promise<SignedPoint> {
    return await signManifest({
      version: 1,
      origin: peerIdFromPrivateKey(privateKey).toString(),
      machine,
      cluster: machine === 'db01' ? 'erp' : null,
      seq,
      kind: parent === null ? 'base' : 'incremental',
      parent: parent?.id ?? null,
      createdAt: new Date(Date.UTC(2026, 10, 25, seq)).toISOString(),
      volumes: { root: { root, type: 'dir', files: 0, bytes: seq * 10, mode: 0o755, mtime: [0, 0] } }
    }, privateKey)
  }

  before(async () => {
    repo = await testRepo()
    self = repo.peerId.toString()
    const key = await generateKeyPair('Ed25519')
    remote = { privateKey: key, origin: peerIdFromPrivateKey(key).toString() }
    // recorded out of order: the chain is ordered by seq, not by arrival
    for (const seq of [1, 2, 3]) chain.push(await point(repo.privateKey, 'web01', seq, chain[seq - 2] ?? null))
    for (const p of [chain[2], chain[0], chain[1]]) await repo.points.record(pointRecord(p, { tenant: '', complete: true }))
    const remoteWeb = await point(remote.privateKey, 'web01', 7, null)
    await repo.points.record(pointRecord(remoteWeb, { tenant: 'acme', complete: false, missing: 12, receivedFrom: remote.origin }))
    await repo.points.record(pointRecord(await point(remote.privateKey, 'db01', 1, null), { tenant: 'acme', complete: true }))
  })
  after(async () => { await repo.close() })

  test('a machine lists its points oldest first, and its latest is the highest seq', async () => {
    const ref = { tenant: '', origin: self, machine: 'web01' }
    assert.deepEqual((await repo.points.points(ref)).map(p => p.seq), [1, 2, 3])
    assert.equal((await repo.points.latest(ref))?.point, chain[2].id.toString())
    assert.equal((await repo.points.get(chain[1].id.toString()))?.parent, chain[0].id.toString())
  })

  test('machines are listed per tenant and origin, with counts and their latest point', async () => {
    const rows = await repo.points.machineRows(unnamed)
    assert.deepEqual(rows, [
      { machine: 'db01', tenant: 'acme', origin: { peerId: remote.origin, name: null }, cluster: 'erp', points: 1, latest: rows[0].latest },
      { machine: 'web01', tenant: '', origin: { peerId: self, name: null }, cluster: null, points: 3, latest: chain[2].id.toString() },
      { machine: 'web01', tenant: 'acme', origin: { peerId: remote.origin, name: null }, cluster: null, points: 1, latest: rows[2].latest }
    ])
    assert.deepEqual((await repo.points.machines({ tenant: 'acme' })).map(m => m.machine), ['db01', 'web01'])
  })

  test('a name in two tenants is ambiguous until qualified; an unknown name says so', async () => {
    await assert.rejects(repo.points.findMachine('web01'), (err: any) =>
      err instanceof AmbiguousNameError && err.kind === 'bad-input' && /machine name web01 is ambiguous: it matches \/web01 .*, acme\/web01 .*; name one as tenant\/web01/.test(err.message))
    assert.equal((await repo.points.findMachine('acme/web01')).tenant, 'acme')
    assert.equal((await repo.points.findMachine('/web01')).tenant, '')
    assert.equal((await repo.points.findMachine(`${remote.origin}/web01`)).tenant, 'acme')
    assert.equal((await repo.points.findMachine('db01')).cluster, 'erp')
    await assert.rejects(repo.points.findMachine('mail01'), (err: any) => err instanceof NotFoundError && err.message === 'unknown machine: mail01')
  })

  test('point rows carry the --json contract; orphan is !complete', async () => {
    const [row] = await repo.points.pointRows('acme/web01', unnamed)
    assert.deepEqual(Object.keys(row).sort(), ['complete', 'createdAt', 'damaged', 'kind', 'machine', 'missingBlocks', 'origin', 'orphan', 'parent', 'parentPresent', 'partial', 'point', 'receivedAt', 'seq', 'skipped', 'tenant', 'volumes'])
    assert.equal(row.orphan, true)
    assert.deepEqual([row.partial, row.skipped], [false, 0], 'a point whose backup stored everything is not partial')
    assert.equal(row.damaged, false, 'never complete here: an orphan, not a damaged point')
    assert.equal(row.missingBlocks, 12)
    assert.deepEqual(row.volumes, { root: { type: 'dir', files: 0, bytes: 70 } })
    const record = (await repo.points.get(row.point)) as PointRecord
    assert.deepEqual(pointRow(record, row.parentPresent === true, unnamed), row)
    assert.equal(record.receivedFrom, remote.origin)
    assert.deepEqual(machineRow({ machine: 'm', tenant: 't', origin: 'o', cluster: null, points: 0, latest: null }, id => ({ peerId: id, name: 'named' })),
      { machine: 'm', tenant: 't', origin: { peerId: 'o', name: 'named' }, cluster: null, points: 0, latest: null })
  })

  test('resolvePoint takes an id or latest, and only points of that machine', async () => {
    assert.equal((await repo.points.resolvePoint('/web01')).record.seq, 3)
    assert.equal((await repo.points.resolvePoint('/web01', chain[0].id.toString())).record.seq, 1)
    const other = (await repo.points.latest({ tenant: 'acme', origin: remote.origin, machine: 'db01' }))!.point
    await assert.rejects(repo.points.resolvePoint('/web01', other), /machine \/web01 has no recovery point/)
  })

  test('completeness updates and orphans; removing the last point forgets the machine', async () => {
    const orphan = (await repo.points.orphans()).map(r => r.machine)
    assert.deepEqual(orphan, ['web01'])
    const id = (await repo.points.orphans())[0].point
    assert.deepEqual((await repo.points.setCompleteness(id, true, 0)).map(r => r.missing), [0])
    assert.deepEqual(await repo.points.orphans(), [])
    await repo.points.remove(id)
    assert.equal(await repo.points.get(id), undefined)
    assert.deepEqual((await repo.points.machines()).map(m => `${m.tenant}/${m.machine}`), ['acme/db01', '/web01'])
    await repo.points.remove(chain[2].id.toString())
    assert.equal((await repo.points.latest({ tenant: '', origin: self, machine: 'web01' }))?.seq, 2)
  })

  test('one point held in two tenants has a record in each; completeness is shared, removal is per tenant', async () => {
    const p = chain[0]
    const id = p.id.toString()
    await repo.points.record(pointRecord(p, { tenant: 'relay', complete: false, missing: 3, receivedFrom: remote.origin }))
    assert.deepEqual((await repo.points.records(id)).map(r => r.tenant).sort(), ['', 'relay'])
    assert.equal((await repo.points.get(id))?.tenant, '', "without a tenant, this Core's own record")
    assert.equal((await repo.points.get(id, 'relay'))?.receivedFrom, remote.origin)
    assert.deepEqual((await repo.points.points({ tenant: 'relay', origin: self, machine: 'web01' })).map(r => r.tenant), ['relay'])
    const updated = await repo.points.setCompleteness(id, true, 0)
    assert.deepEqual(updated.map(r => [r.tenant, r.complete]).sort(), [['', true], ['relay', true]])
    await repo.points.remove(id, 'relay')
    assert.deepEqual((await repo.points.records(id)).map(r => r.tenant), [''])
    assert.equal((await repo.points.machines({ tenant: 'relay' })).length, 0)
  })

  test('recordOps are blind puts into the named sublevels, for a block writer\'s final batch', () => {
    const ops = repo.points.recordOps(pointRecord(chain[0], { tenant: '', complete: true }))
    assert.deepEqual(ops.map(o => o.sublevel), ['points', 'chains', 'machines'])
    assert.ok(ops.every(o => o.type === 'put'))
  })
})
