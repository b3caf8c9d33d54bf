import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile, symlink, rm, rename, readdir, readFile, open, chmod, utimes, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { drcore, drcoreJson, startCore } from '../support/daemon.ts'
import { tempDir, removeDir } from '../support/dirs.ts'
import { snapshotTree, sha256File } from '../helpers/tree.ts'

async function makeTree (root: string): Promise<void> {
  await mkdir(join(root, 'etc', 'app', 'conf.d'), { recursive: true })
  await mkdir(join(root, 'home', 'zoë', 'документы'), { recursive: true })
  await mkdir(join(root, 'empty-dir'))
  await writeFile(join(root, 'etc', 'app', 'app.conf'), 'listen = 8080\n')
  await writeFile(join(root, 'etc', 'app', 'conf.d', '10-tls.conf'), 'tls = on\n')
  await writeFile(join(root, 'home', 'zoë', 'документы', 'отчёт 2026.txt'), 'квартальный отчёт\n'.repeat(100))
  await writeFile(join(root, 'home', 'zoë', '日本語.md'), '# こんにちは\n')
  await writeFile(join(root, 'empty.bin'), '')
  await writeFile(join(root, 'large.bin'), randomBytes(6 * 1024 * 1024))
  await writeFile(join(root, 'script.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 })
  await chmod(join(root, 'script.sh'), 0o755)
  await writeFile(join(root, 'secret.key'), 'k', { mode: 0o600 })
  await chmod(join(root, 'secret.key'), 0o600)
  await symlink('etc/app/app.conf', join(root, 'link-to-conf'))
  await symlink('/nonexistent/target', join(root, 'dangling'))
  await utimes(join(root, 'etc', 'app', 'app.conf'), new Date('2020-01-02T03:04:05.678Z'), new Date('2020-01-02T03:04:05.678Z'))
}

describe('a Core takes, stores, verifies and restores recovery points (CLI, end to end)', () => {
  let work: string
  let repo: string
  before(async () => {
    work = await tempDir()
    repo = join(work, 'repo')
  })
  after(async () => { await removeDir(work) })

  test('init creates the repository and identity and refuses to overwrite it', async () => {
    const out = await drcoreJson(['init', '--repo', repo, '--name', 'hq', '--listen', '/ip4/127.0.0.1/tcp/0', '--api-port', '0'])
    assert.equal(out.name, 'hq')
    assert.equal(out.repo, repo)
    assert.match(out.peerId, /^12D3KooW/)
    const key = await stat(join(repo, 'identity.key'))
    assert.equal(key.mode & 0o777, 0o600)
    const again = await drcore(['init', '--repo', repo])
    assert.equal(again.code, 1)
    assert.match(again.stderr, /already exists/)
    assert.equal(again.stderr.trim().split('\n').length, 1)
    const id = await drcoreJson(['id', '--repo', repo])
    assert.equal(id.peerId, out.peerId)
    assert.equal(id.name, 'hq')
  })

  test('a command on a directory that is not a repository fails with one clear line', async () => {
    const r = await drcore(['machines', '--repo', join(work, 'nothing-here')])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /no drcore repository at .*nothing-here/)
    assert.equal(r.stderr.trim().split('\n').length, 1)
  })

  test('usage errors exit 2', async () => {
    const r = await drcore(['backup', '--repo', repo])
    assert.equal(r.code, 2)
    const u = await drcore(['no-such-command'])
    assert.equal(u.code, 2)
  })

  test('backup, change, backup again; both points restore exactly as the tree was', async () => {
    const tree = join(work, 'data')
    await makeTree(tree)
    const before1 = await snapshotTree(tree)
    const p1 = await drcoreJson(['backup', 'web01', tree, '--repo', repo])
    assert.equal(p1.kind, 'base')
    assert.equal(p1.parent, null)
    assert.equal(p1.machine, 'web01')
    assert.ok(p1.files >= 9, `files: ${p1.files}`)
    assert.ok(p1.bytes >= 6 * 1024 * 1024)
    assert.ok(p1.newBytes > 0 && p1.storedBytes > 0)
    assert.deepEqual(p1.skipped, [])

    // edit, add, delete, rename
    await writeFile(join(tree, 'etc', 'app', 'app.conf'), 'listen = 9090\n')
    await writeFile(join(tree, 'home', 'zoë', 'new file.txt'), 'added\n')
    await rm(join(tree, 'secret.key'))
    await rename(join(tree, 'home', 'zoë', '日本語.md'), join(tree, 'home', 'zoë', 'renamed.md'))
    const fh = await open(join(tree, 'large.bin'), 'r+')
    await fh.write(Buffer.from('patched in the middle'), 0, 21, 3 * 1024 * 1024)
    await fh.close()
    const before2 = await snapshotTree(tree)

    const p2 = await drcoreJson(['backup', 'web01', tree, '--repo', repo])
    assert.equal(p2.kind, 'incremental')
    assert.equal(p2.parent, p1.point)
    assert.ok(p2.newBytes < 1024 * 1024, `an edit in the middle of a 6 MiB file stores little: ${p2.newBytes}`)

    const points = await drcoreJson(['points', 'web01', '--repo', repo])
    assert.deepEqual(points.map((p: any) => p.point), [p1.point, p2.point])
    assert.deepEqual(points.map((p: any) => p.kind), ['base', 'incremental'])
    assert.ok(points.every((p: any) => p.complete === true && p.orphan === false))
    assert.ok(points.every((p: any) => typeof p.origin.peerId === 'string' && p.volumes.data != null))

    const machines = await drcoreJson(['machines', '--repo', repo])
    assert.equal(machines.length, 1)
    assert.equal(machines[0].machine, 'web01')
    assert.equal(machines[0].points, 2)
    assert.equal(machines[0].latest, p2.point)

    const r1 = join(work, 'restore1')
    await drcoreJson(['restore', 'web01', r1, '--point', p1.point, '--repo', repo])
    assert.deepEqual(await snapshotTree(join(r1, 'data')), before1)
    const r2 = join(work, 'restore2')
    await drcoreJson(['restore', 'web01', r2, '--repo', repo])
    assert.deepEqual(await snapshotTree(join(r2, 'data')), before2)

    // file-level restore of one file from the older point
    const r3 = join(work, 'restore3')
    await drcoreJson(['restore', 'web01', r3, '--point', p1.point, '--path', 'home/zoë/日本語.md', '--repo', repo])
    assert.equal(await readFile(join(r3, '日本語.md'), 'utf8'), '# こんにちは\n')

    const ls = await drcoreJson(['ls', 'web01', 'home/zoë', '--point', p1.point, '--repo', repo])
    const names = ls.map((e: any) => e.name).sort()
    assert.deepEqual(names, ['документы', '日本語.md'])
  })

  test('a volume image comes back bit-identical', async () => {
    const image = join(work, 'disk.img')
    const buf = Buffer.alloc(12 * 1024 * 1024)
    for (let off = 0; off < buf.length; off += 4096) if ((off / 4096) % 3 !== 0) randomBytes(4096).copy(buf, off)
    await writeFile(image, buf)
    const p = await drcoreJson(['backup', 'db01', `sda1=${image}`, '--repo', repo])
    assert.equal(p.kind, 'base')
    const dest = join(work, 'restore-image')
    await drcoreJson(['restore', 'db01', dest, '--volume', 'sda1', '--repo', repo])
    assert.equal(await sha256File(join(dest, 'sda1')), await sha256File(image))
  })

  test('a missing path is one clear line and writes no point', async () => {
    const r = await drcore(['backup', 'web01', join(work, 'no-such-dir'), '--repo', repo])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /no-such-dir/)
    assert.equal(r.stderr.trim().split('\n').length, 1)
    const points = await drcoreJson(['points', 'web01', '--repo', repo])
    assert.equal(points.length, 2)
  })

  test('verify passes, then names the block with a flipped byte, and restore refuses to write bad data', async () => {
    const ok = await drcoreJson(['verify', '--repo', repo])
    assert.equal(ok.ok, true)
    assert.deepEqual(ok.corrupt, [])
    assert.ok(ok.blocks > 10)

    // flip one byte in the middle of the largest pack
    const packs = join(repo, 'packs')
    let largest = ''
    let size = 0
    for (const name of await readdir(packs)) {
      const s = (await stat(join(packs, name))).size
      if (s > size) { size = s; largest = name }
    }
    const fh = await open(join(packs, largest), 'r+')
    const pos = Math.floor(size / 2)
    const b = Buffer.alloc(1)
    await fh.read(b, 0, 1, pos)
    b[0] ^= 0xff
    await fh.write(b, 0, 1, pos)
    await fh.close()

    const r = await drcore(['verify', '--json', '--repo', repo])
    assert.equal(r.code, 1)
    const bad = JSON.parse(r.stdout)
    assert.equal(bad.ok, false)
    assert.equal(bad.corrupt.length, 1)
    assert.match(bad.corrupt[0], /^b/)

    // restoring everything must hit the corrupt block: it fails naming it, and no file holds bad data
    const dest = join(work, 'restore-bad')
    const failures: string[] = []
    for (const [machine, args] of [['web01', []], ['db01', ['--volume', 'sda1']]] as const) {
      const rr = await drcore(['restore', machine, join(dest, machine), ...args, '--repo', repo])
      if (rr.code !== 0) failures.push(rr.stderr)
    }
    assert.equal(failures.length, 1, 'exactly one of the restores touches the corrupt block')
    assert.ok(failures[0].includes(bad.corrupt[0]), failures[0])
    // verify quarantined the block: the damage stays reported until a good copy is back
    const still = await drcore(['verify', '--json', '--repo', repo])
    assert.equal(JSON.parse(still.stdout).ok, false)
    // the disk "heals" (the byte is put back): repair takes the copy back once it reads well, and
    // later tests see a healthy repository
    const fix = await open(join(packs, largest), 'r+')
    b[0] ^= 0xff
    await fix.write(b, 0, 1, pos)
    await fix.close()
    const repaired = await drcoreJson(['repair', '--repo', repo])
    assert.equal(repaired.reinstated, 1)
    assert.equal((await drcoreJson(['verify', '--repo', repo])).ok, true)
  })

  test('while the daemon runs, commands go through it; a second opener gets a clear error', async () => {
    const core = await startCore(repo)
    try {
      const machines = await drcoreJson(['machines', '--repo', repo])
      assert.equal(machines.length, 2)
      const info = JSON.parse(await readFile(join(repo, 'daemon.json'), 'utf8'))
      assert.equal(info.pid, core.process.pid)
      // without daemon.json the CLI opens the repository itself and meets the lock
      await rename(join(repo, 'daemon.json'), join(repo, 'daemon.json.hidden'))
      const r = await drcore(['machines', '--repo', repo])
      assert.equal(r.code, 1)
      assert.match(r.stderr, /in use by another drcore process/)
      assert.equal(r.stderr.trim().split('\n').length, 1)
      await rename(join(repo, 'daemon.json.hidden'), join(repo, 'daemon.json'))
    } finally {
      assert.equal(await core.stop('SIGTERM'), 0)
    }
    await assert.rejects(stat(join(repo, 'daemon.json')), 'a clean stop removes daemon.json')
    assert.equal((await drcoreJson(['machines', '--repo', repo])).length, 2)
  })
})
