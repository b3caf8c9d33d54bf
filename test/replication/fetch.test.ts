import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { NotFoundError } from '../../src/errors.ts'
import { tempDir, removeDir } from '../support/dirs.ts'
import { snapshotTree } from '../helpers/tree.ts'
import { TestCore, pair } from '../support/core.ts'

const KiB = 1024

/**
 * Restore at home after a disaster: the office Core is gone; a new Core, approved by the DR
 * site into the old Core's tenant, fetches the machine's points back and restores them.
 */
describe('fetch copies a tenant\'s points back from the Core that holds them', { timeout: 120_000 }, () => {
  let work: string
  let src: string
  let office: TestCore
  let dr: TestCore
  let home: TestCore
  const points: string[] = []
  const trees: Array<Awaited<ReturnType<typeof snapshotTree>>> = []

  before(async () => {
    work = await tempDir('drcore-fetch-')
    src = join(work, 'src')
    await mkdir(join(src, 'docs'), { recursive: true })
    for (let i = 0; i < 10; i++) await writeFile(join(src, 'docs', `doc-${i}.odt`), randomBytes(50 * KiB))
    ;[office, dr] = await Promise.all([TestCore.create('office'), TestCore.create('dr')])
    await pair(office, dr, { tenant: 'office' })
    for (let i = 0; i < 2; i++) {
      await writeFile(join(src, 'docs', 'doc-0.odt'), randomBytes(50 * KiB))
      points.push((await office.backup('files01', src)).point)
      trees.push(await snapshotTree(src))
    }
    await office.addRule('files01', dr)
    await office.replicateNow('files01', dr)
    // the office burns down; a new Core at home is approved by the DR site into the old tenant
    await office.destroy()
    home = await TestCore.create('home')
    await pair(home, dr, { tenant: 'office' })
  })
  after(async () => {
    await Promise.all([dr?.destroy(), home?.destroy()])
    await removeDir(work)
  })

  test('one point by id, verified and recorded in the home Core\'s own tenant', async () => {
    const result = await home.run('fetch', { machine: 'files01', from: 'dr', point: points[0] })
    assert.deepEqual(result.points, [points[0]])
    assert.deepEqual(result.from, { peerId: dr.peerId, name: 'dr' })
    assert.ok(result.bytes >= 500 * KiB, `${result.bytes} bytes`)
    const record = await home.core.points.get(points[0], '')
    assert.deepEqual({ tenant: record?.tenant, complete: record?.complete, receivedFrom: record?.receivedFrom }, { tenant: '', complete: true, receivedFrom: dr.peerId })
    const dest = join(work, 'restore-0')
    await home.core.run('restore', { machine: 'files01', point: points[0], dest })
    assert.deepEqual(await snapshotTree(join(dest, 'data')), trees[0])
  })

  test('every point of the machine, fetching only what the home Core lacks', async () => {
    const result = await home.run('fetch', { machine: 'files01', from: 'dr' })
    assert.deepEqual(result.points, points)
    assert.ok(result.bytes > 50 * KiB && result.bytes < 100 * KiB, `only the changed file and its directory crossed: ${result.bytes} bytes`)
    const dest = join(work, 'restore-1')
    await home.core.run('restore', { machine: 'files01', dest })
    assert.deepEqual(await snapshotTree(join(dest, 'data')), trees[1])
    const [event] = home.events.ofType('replication.fetched').slice(-1)
    assert.deepEqual(event.data.points, points)
  })

  test('fetched points are not sent back to the Core they came from', async () => {
    await home.addRule('files01', dr)
    const result = await home.replicateNow('files01', dr)
    assert.deepEqual({ sent: result.sent, skipped: result.skipped }, { sent: [], skipped: points })
  })

  test('a machine or point the tenant does not hold is not found', async () => {
    await assert.rejects(home.run('fetch', { machine: 'payroll', from: 'dr' }), (err: Error) =>
      err instanceof NotFoundError && err.message === `peer dr (${dr.peerId}) holds no points of payroll for this Core`)
    const other = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
    await assert.rejects(home.run('fetch', { machine: 'files01', from: 'dr', point: other }), (err: Error) =>
      err instanceof NotFoundError && err.message === `peer dr (${dr.peerId}) holds no point ${other} of files01 for this Core`)
  })
})
