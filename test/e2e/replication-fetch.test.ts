import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { appendFile, mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { removeDir, tempDir } from '../support/dirs.ts'
import { DaemonCore } from '../support/daemon.ts'
import { waitFor } from '../support/wait.ts'
import { snapshotTree } from '../helpers/tree.ts'

/**
 * Fetching points back, and tenants: hq and br both replicate a machine called web01 to dr.
 * Each sees only its own; after losing its repository, hq comes back as a new Core that dr
 * approves into hq's tenant, fetches web01 and restores it (docs/replication.md, "Disasters").
 */
describe('fetch: tenants see only their own points; a rebuilt Core fetches its points back', () => {
  let work: string
  let hq: DaemonCore
  let dr: DaemonCore
  let br: DaemonCore
  let tree: string
  const hqPoints: string[] = []
  let brPoint: string

  const machinesOn = async (core: DaemonCore): Promise<string[]> => (await core.api('machines') as any[]).map(m => `${m.machine}:${m.tenant}`).sort()

  before(async () => {
    work = await tempDir('drcore-fetch-')
    ;[hq, dr, br] = await Promise.all(['hq', 'dr', 'br'].map(async name => await DaemonCore.init(work, name)))
    await Promise.all([hq.start(), dr.start(), br.start()])
    await hq.pairWith(dr)
    await br.pairWith(dr)

    tree = join(work, 'web01')
    await mkdir(join(tree, 'etc'), { recursive: true })
    await writeFile(join(tree, 'etc', 'hosts'), '127.0.0.1 localhost\n')
    await writeFile(join(tree, 'disk.img'), randomBytes(1024 * 1024))
    await hq.json(['replicate', 'web01', '--to', 'dr'])
    hqPoints.push((await hq.api('backup', { machine: 'web01', volumes: [{ name: 'web01', path: tree }] })).point)
    await appendFile(join(tree, 'etc', 'hosts'), '10.0.0.2 db\n')
    hqPoints.push((await hq.api('backup', { machine: 'web01', volumes: [{ name: 'web01', path: tree }] })).point)

    const other = join(work, 'br-web01')
    await mkdir(other)
    await writeFile(join(other, 'index.html'), '<h1>branch</h1>\n')
    await br.json(['replicate', 'web01', '--to', 'dr'])
    brPoint = (await br.api('backup', { machine: 'web01', volumes: [{ name: 'web01', path: other }] })).point
    await waitFor('both tenants\' web01 on dr', async () => await machinesOn(dr), m => m.length === 2)
    await waitFor('hq\'s two points on dr', async () => await hq.rule('web01', dr), r => r.lastPoint === hqPoints[1])
  })
  after(async () => {
    await Promise.all([hq, dr, br].map(async c => await c?.stop()))
    await removeDir(work)
  })

  test('two tenants on one target cannot list, fetch or probe each other\'s points', async () => {
    assert.deepEqual(await machinesOn(dr), ['web01:br', 'web01:hq'])
    const foreign = await br.cli(['fetch', 'web01', '--from', 'dr', '--point', hqPoints[0]])
    const madeUp = await br.cli(['fetch', 'web01', '--from', 'dr', '--point', 'bafyreigwmzx45eh6vq6bgvjudzuczs5ox3rslpqxwnjlya74pbtxvof4ke'])
    assert.equal(foreign.code, 1)
    assert.equal(madeUp.code, 1)
    const neutral = (text: string): string => text.replace(/bafy\w+/g, 'POINT')
    assert.equal(neutral(foreign.stderr), neutral(madeUp.stderr), 'another tenant\'s point reads exactly like one that does not exist')
    assert.match(foreign.stderr, new RegExp(`^drcore: peer dr \\(${dr.peerId}\\) holds no point ${hqPoints[0]} of web01 for this Core\n$`))

    const own = await br.json(['fetch', 'web01', '--from', 'dr'])
    assert.deepEqual(own.points, [brPoint], 'br gets its own web01, never hq\'s')
    assert.equal(own.blocks, 0, 'br holds every block already')
    const again = await br.cli(['fetch', 'web01', '--from', 'dr'])
    assert.match(again.stdout, /^nothing to move: this Core held every block of the 1 point of web01 already; they are recorded here \(\d+\.\d s\)\n$/, 'not "fetched 1 point"')
    assert.deepEqual((await br.json(['points', 'web01'])).map((p: any) => p.point), [brPoint])
  })

  test('at home after a disaster: a new Core, approved into the old tenant, fetches and restores', async t => {
    const oldHq = hq.peerId
    const expected = await snapshotTree(tree)
    await hq.stop('SIGKILL')
    await rm(hq.repo, { recursive: true, force: true })

    // the procedure of docs/replication.md: dr forgets the lost identity, the new Core pairs,
    // dr approves it into the tenant that holds the old Core's points
    await dr.json(['peer', 'remove', 'hq'])
    const home = await DaemonCore.init(work, 'hq-rebuilt')
    await home.start()
    t.after(async () => { await home.stop() })
    await home.json(['peer', 'add', dr.address, '--name', 'dr'])
    const approved = await dr.json(['peer', 'approve', home.peerId, '--tenant', 'hq'])
    assert.equal(approved.tenant, 'hq')
    await waitFor('the rebuilt Core to hear the approval', async () => await home.api('peers'), (p: any[]) => p.some(x => x.peerId === dr.peerId && x.canSendTo))

    const one = await home.json(['fetch', 'web01', '--from', 'dr', '--point', hqPoints[0]])
    assert.deepEqual(one.points, [hqPoints[0]])
    assert.ok(one.bytes >= 1024 * 1024)
    const all = await home.cli(['fetch', 'web01', '--from', 'dr'])
    assert.equal(all.code, 0, all.stderr)
    assert.match(all.stdout, /^fetched 2 points of web01 from dr: \d+ blocks, [\d.]+ \w+ in \d+\.\d s\n$/)

    const points = await home.json(['points', 'web01'])
    assert.deepEqual(points.map((p: any) => p.point), hqPoints)
    assert.ok(points.every((p: any) => p.origin.peerId === oldHq && p.tenant === '' && p.complete))
    const dest = join(work, 'restored-at-home')
    const r = await home.cli(['restore', 'web01', dest])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(await snapshotTree(join(dest, 'web01')), expected)
  })
})
