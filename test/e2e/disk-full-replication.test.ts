import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { removeDir, tempDir } from '../support/dirs.ts'
import { DaemonCore } from '../support/daemon.ts'
import { canMount, Tmpfs } from '../helpers/tmpfs.ts'
import { sha256File, snapshotTree } from '../helpers/tree.ts'
import { buildImage, copySystemDirs, IMAGE_SOURCES, TREE_SOURCES } from './disk-full.fixture.ts'

const MiB = 1024 * 1024
/** Once a year: the rule runs only when the test says `replication now`. */
const NEVER = '0 0 1 1 *'

/**
 * A replication target whose disk fills mid-transfer (a real tmpfs): it tells its source why at
 * once, both sides record it, and the retry after space is freed there completes the point.
 * Real data: copies of system directories.
 */
describe('a replication target whose disk is full', { timeout: 240_000, skip: canMount ? false : 'needs root to mount a tmpfs' }, () => {
  let work: string
  let tree: string
  let image: string
  let hq: DaemonCore
  let dr: DaemonCore
  let disk: Tmpfs

  before(async () => {
    work = await tempDir('drcore-disk-full-replication-')
    tree = join(work, 'tree')
    await copySystemDirs(tree, TREE_SOURCES)
    // with the image the point is far more than the network holds in flight (windows and buffers,
    // about 25 MiB): the source is still streaming, stalled by backpressure, when the target stops
    image = join(work, 'disk.img')
    await buildImage(image, IMAGE_SOURCES, work)
    disk = await Tmpfs.mount(join(work, 'dr-disk'), 64 * MiB)
    hq = await DaemonCore.init(work, 'hq')
    dr = await DaemonCore.init(disk.dir, 'dr')
    await Promise.all([hq.start(), dr.start()])
    await hq.pairWith(dr)
  })

  after(async () => {
    await Promise.all([hq?.stop(), dr?.stop()])
    await disk?.unmount()
    await removeDir(work)
  })

  test('the source fails within seconds naming the target and the full disk; retried after space is freed, the point completes', { timeout: 180_000 }, async t => {
    const point = (await hq.json(['backup', 'files', `tree=${tree}`, `disk=${image}`])).point
    assert.equal((await hq.json(['verify'])).ok, true, 'the source holds the point whole')
    await hq.json(['replicate', 'files', '--to', 'dr', '--schedule', NEVER])
    await disk.fillLeaving(1 * MiB)

    const started = Date.now()
    const failed = await hq.cli(['replication', 'now', 'files', '--to', 'dr'])
    const seconds = (Date.now() - started) / 1000
    assert.equal(failed.code, 1, failed.stdout + failed.stderr)
    const lines = failed.stderr.trim().split('\n')
    assert.equal(lines.length, 1, failed.stderr)
    assert.match(lines[0], new RegExp(`^drcore: .*peer dr \\(${dr.peerId}\\): no space left on device on its disk: it keeps what it stored and takes the rest once space is freed there`))
    assert.doesNotMatch(lines[0], new RegExp(disk.dir), "the target's paths stay on the target")

    const [stopped] = (await dr.events('replication.interrupted')).filter(e => e.data.point === point)
    assert.ok(stopped !== undefined, 'the target records why the transfer stopped')
    assert.equal(stopped.level, 'error')
    assert.equal(stopped.data.code, 'ENOSPC')
    assert.match(stopped.message, new RegExp(`stopped: no space left on device writing (pack|index file) ${disk.dir}/dr/`))
    const [jobFailed] = (await hq.events('replication.failed')).filter(e => e.data.machine === 'files')
    assert.match(jobFailed.message, /no space left on device/)
    assert.equal(jobFailed.level, 'error')
    // the source learnt it from the target's error, not from a 60 s deadline without progress
    const noticed = (Date.parse(jobFailed.at) - Date.parse(stopped.at)) / 1000
    t.diagnostic(`the source failed ${noticed.toFixed(1)} s after the target stopped; replication now took ${seconds.toFixed(1)} s: ${lines[0]}`)
    assert.ok(noticed < 5, `the source failed ${noticed.toFixed(1)} s after the target stopped`)
    assert.ok(seconds < 45, `replication now took ${seconds.toFixed(1)} s`)

    await disk.removeFiller()
    const done = await hq.json(['replication', 'now', 'files', '--to', 'dr'])
    assert.equal(done.pointsBehind, 0)
    assert.deepEqual(done.sent, [point])
    const [received] = await dr.api('points', { machine: 'files' })
    assert.equal(received.point, point)
    assert.equal(received.complete, true)
    const verified = await dr.json(['verify'])
    assert.equal(verified.ok, true, JSON.stringify(verified))
    const out = join(work, 'restored')
    const restored = await dr.cli(['restore', 'files', out])
    assert.equal(restored.code, 0, restored.stderr)
    assert.deepEqual(await snapshotTree(join(out, 'tree')), await snapshotTree(tree))
    assert.equal(await sha256File(join(out, 'disk')), await sha256File(image))
  })
})
