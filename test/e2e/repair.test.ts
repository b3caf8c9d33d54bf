import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { removeDir, tempDir } from '../support/dirs.ts'
import { DaemonCore } from '../support/daemon.ts'
import { damageBlock } from '../helpers/damage.ts'
import { copySystemTree, ext4Image, fileChunks, oneChunkFile, uniqueChunk } from '../helpers/system-data.ts'
import { assertSameTree, sha256File, snapshotTree } from '../helpers/tree.ts'

const MiB = 1024 * 1024

/**
 * `drcore repair` on real daemons with real data: a source whose own point lost blocks gets
 * them back from the target that holds its replica, a target gets them from its source, and a
 * peer that holds nothing useful leaves the point damaged, saying how much is missing.
 * a replicates web01 (system files and an ext4 image built from them) to b; c approved a too,
 * but holds nothing of it.
 */
describe('drcore repair rebuilds damaged points from the peers that hold them', { timeout: 600_000 }, () => {
  let work: string
  let a: DaemonCore
  let b: DaemonCore
  let c: DaemonCore
  let tree: string
  let image: string
  let point: string
  /** a file of the tree that is one raw block, and a chunk of the image that occurs once */
  let fileBlock: { path: string, cid: CID }
  let imageChunk: CID
  let damagedBytes: number

  const restores = async (core: DaemonCore, name: string): Promise<void> => {
    const dest = join(work, name)
    const r = await core.cli(['restore', 'web01', dest])
    assert.equal(r.code, 0, r.stderr)
    assertSameTree(await snapshotTree(join(dest, 'tree')), await snapshotTree(tree))
    assert.equal(await sha256File(join(dest, 'disk')), await sha256File(image))
  }

  before(async () => {
    work = await tempDir('drcore-repair-')
    tree = join(work, 'tree')
    await copySystemTree(tree, ['/usr/share/perl/5.36.0/Pod', '/usr/share/perl/5.36.0/TAP'])
    const stage = join(work, 'stage')
    await copySystemTree(stage, ['/usr/share/perl/5.36.0/unicore', '/usr/share/perl/5.36.0/Math'])
    image = join(work, 'disk.img')
    await ext4Image(image, stage, 16 * MiB)
    fileBlock = await oneChunkFile(tree)
    imageChunk = await uniqueChunk(image)
    damagedBytes = (await stat(fileBlock.path)).size + (await fileChunks(image)).find(ch => ch.cid.equals(imageChunk))!.length

    ;[a, b, c] = await Promise.all(['a', 'b', 'c'].map(async name => await DaemonCore.init(work, name)))
    await Promise.all([a.start(), b.start(), c.start()])
    await a.pairWith(b)
    await a.pairWith(c)
    await a.json(['replicate', 'web01', '--to', 'b'])
    point = (await a.api('backup', { machine: 'web01', volumes: [{ name: 'tree', path: tree }, { name: 'disk', path: image }] })).point
    const now = await a.json(['replication', 'now', 'web01', '--to', 'b'])
    assert.equal(now.lastPoint, point)
    assert.equal((await b.json(['verify'])).ok, true)

    // what a repository of the previous release looks like: blocks stored damaged, among them
    // a chunk of the image; verify finds them
    await damageBlock(a.repo, fileBlock.cid)
    await damageBlock(a.repo, imageChunk)
    const verify = await a.json(['verify'], 1)
    assert.deepEqual(verify.corrupt.sort(), [fileBlock.cid.toString(), imageChunk.toString()].sort())
    assert.deepEqual(verify.lost, [point])
  })
  after(async () => {
    await Promise.all([a?.stop(), b?.stop(), c?.stop()])
    await removeDir(work)
  })

  test('--from an unknown peer is one line and changes nothing', async () => {
    const r = await a.cli(['repair', '--from', 'nobody'])
    assert.equal(r.code, 1)
    assert.equal(r.stderr, 'drcore: --from: unknown peer nobody: drcore peer list shows the peers this Core knows\n')
    assert.equal(r.stdout, '')
    assert.equal((await a.json(['points', 'web01']))[0].damaged, true)
  })

  test('a peer that holds nothing of the point leaves it damaged, with the count of blocks missing', async () => {
    const r = await a.cli(['repair', '--from', 'c'])
    assert.equal(r.code, 1, r.stderr)
    assert.equal(r.stdout.split('\n')[0], `point ${point} of web01: still damaged, 2 blocks missing`)
    assert.match(r.stdout, /^repaired 0 of 1 damaged point: 0 blocks read well again, 0 found in this repository's packs, 0 fetched$/m)
    assert.match(r.stdout, /^2 damaged blocks still wait for a good copy/m)
    const report = await a.json(['repair', '--from', 'c'], 1)
    assert.deepEqual(report.points, [{ point, machine: 'web01', tenant: '', state: 'still damaged', missingBlocks: 2, from: [] }])
    assert.deepEqual(report.peers, [{ peerId: c.peerId, name: 'c', blocks: 0, bytes: 0, error: null }])
    assert.equal(report.ok, false)
  })

  test('a source heals its own damaged point, image chunk included, from the replica on its target', async () => {
    const report = await a.json(['repair', '--from', 'b'])
    assert.equal(report.ok, true)
    assert.deepEqual(report.points, [{ point, machine: 'web01', tenant: '', state: 'whole', missingBlocks: 0, from: [{ peerId: b.peerId, name: 'b' }] }])
    assert.deepEqual(report.peers, [{ peerId: b.peerId, name: 'b', blocks: 2, bytes: damagedBytes, error: null }])
    assert.equal(report.fetched, 2, 'exactly the two damaged blocks travel')
    assert.equal(report.quarantined, 0)
    assert.equal((await a.json(['verify'])).ok, true)
    await restores(a, 'restored-on-a')
  })

  test('without --from, a source asks the targets of its rules', async () => {
    await damageBlock(a.repo, imageChunk)
    assert.equal((await a.json(['verify'], 1)).lost[0], point)
    const r = await a.cli(['repair'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.split('\n')[0], `point ${point} of web01: whole again (from b)`)
    assert.equal((await a.json(['verify'])).ok, true)
  })

  test('a target heals a point it received from the source that sent it, which never approved it', async () => {
    await damageBlock(b.repo, fileBlock.cid)
    await damageBlock(b.repo, imageChunk)
    assert.deepEqual((await b.json(['verify'], 1)).lost, [point])
    const report = await b.json(['repair'])
    assert.deepEqual(report.points, [{ point, machine: 'web01', tenant: 'a', state: 'whole', missingBlocks: 0, from: [{ peerId: a.peerId, name: 'a' }] }])
    assert.deepEqual(report.peers.map((p: any) => [p.name, p.blocks, p.error]), [['a', 2, null]])
    assert.equal((await b.json(['verify'])).ok, true)
    await restores(b, 'restored-on-b')
    assert.equal((await a.rule('web01', b)).pointsBehind, 0)
  })
})
