import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes, createHash } from 'node:crypto'
import { mkdir, writeFile, readFile, rm, open } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { openBlockStore } from '../../src/store/index.ts'
import type { BlockStore, RootDb } from '../../src/store/index.ts'
import { PointIndex } from '../../src/points/point-index.ts'
import { backup } from '../../src/backup/index.ts'
import { listPath, restore, verifyPoints } from '../../src/restore/index.ts'
import { snapshotTree } from '../helpers/tree.ts'
import { tempDir } from '../helpers/backup-deps.ts'

/** The same flows as the unit tests, on the real pack-file store and LevelDB, with default sizes. */
describe('backup and restore on the real block store', () => {
  let work: string
  let db: RootDb
  let store: BlockStore
  let deps: { store: BlockStore, points: PointIndex, privateKey: any, peerId: any }

  before(async () => {
    work = await tempDir()
    db = new Level(join(work, 'index'))
    await db.open()
    store = await openBlockStore({ dir: join(work, 'packs'), db })
    const privateKey = await generateKeyPair('Ed25519')
    deps = { store, points: new PointIndex(db), privateKey, peerId: peerIdFromPrivateKey(privateKey) }
  })
  after(async () => {
    await store.close()
    await db.close()
    await rm(work, { recursive: true, force: true })
  })

  test('a tree and an image round-trip; an in-place edit of the image stores a few chunks; verify finds all complete', async () => {
    const tree = join(work, 'tree')
    await mkdir(join(tree, 'docs', 'ü'), { recursive: true })
    await writeFile(join(tree, 'docs', 'ü', 'readme.md'), '# drcore\n'.repeat(1000))
    await writeFile(join(tree, 'disk.img'), randomBytes(8 * 1024 * 1024))
    const first = await backup(deps, { machine: 'srv', volumes: [{ name: 'data', path: tree }] })
    assert.ok(first.storedBytes > 8 * 1024 * 1024 && first.storedBytes < 8.5 * 1024 * 1024)
    const snapshot1 = await snapshotTree(tree)

    const fh = await open(join(tree, 'disk.img'), 'r+')
    await fh.write(randomBytes(4096), 0, 4096, 5 * 1024 * 1024)
    await fh.close()
    const second = await backup(deps, { machine: 'srv', volumes: [{ name: 'data', path: tree }] })
    assert.equal(second.bytes, 8 * 1024 * 1024, 'only the image is read again')
    assert.ok(second.newBytes <= 512 * 1024, `a 4 KiB write costs a chunk or two (${second.newBytes} new bytes)`)
    assert.ok(second.storedBytes < 1024 * 1024, `and little metadata (${second.storedBytes} stored bytes)`)

    const ls = await listPath(deps, { machine: 'srv', path: 'docs/ü' })
    assert.deepEqual(ls.map(e => [e.name, e.present]), [['readme.md', true]])

    const out1 = join(work, 'out1')
    await restore(deps, { machine: 'srv', point: first.point, dest: out1 })
    assert.deepEqual(await snapshotTree(join(out1, 'data')), snapshot1)
    const out2 = join(work, 'out2')
    await restore(deps, { machine: 'srv', dest: out2, path: 'disk.img' })
    const sha = async (p: string) => createHash('sha256').update(await readFile(p)).digest('hex')
    assert.equal(await sha(join(out2, 'disk.img')), await sha(join(tree, 'disk.img')))

    assert.deepEqual(await verifyPoints(deps), { checked: 2, missing: [], orphans: [], lost: [], completed: [] })
  })
})
