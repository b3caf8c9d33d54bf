import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { drcore } from '../support/daemon.ts'
import { removeDir, tempDir } from '../support/dirs.ts'
import type { CliResult } from '../support/daemon.ts'
import { canMount, Tmpfs } from '../helpers/tmpfs.ts'
import { sha256File, snapshotTree } from '../helpers/tree.ts'
import { buildImage, copySystemDirs, IMAGE_SOURCES, TREE_SOURCES } from './disk-full.fixture.ts'

const MiB = 1024 * 1024

/** The one line a failed command prints: no stack, no "internal error". */
function oneLine (r: CliResult): string {
  assert.equal(r.code, 1, `exit code 1 expected; stdout: ${r.stdout} stderr: ${r.stderr}`)
  const lines = r.stderr.trim().split('\n')
  assert.equal(lines.length, 1, `one line expected:\n${r.stderr}`)
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /)
  return lines[0]
}

async function json (args: string[]): Promise<any> {
  const r = await drcore([...args, '--json'])
  assert.equal(r.code, 0, `drcore ${args.join(' ')}: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

/** `drcore verify` with a full rehash: every block whole, no point lost. */
async function assertVerifies (repo: string): Promise<{ blocks: number }> {
  const v = await json(['verify', '--repo', repo])
  assert.equal(v.ok, true, `verify of ${repo}: ${JSON.stringify(v)}`)
  assert.deepEqual(v.corrupt, [])
  assert.deepEqual(v.lost, [])
  return v
}

/**
 * Disk full for real (a small tmpfs, the kernel's ENOSPC) under each command that writes: one
 * line naming the lack of space and the path, nothing committed lost, verify passes, and the same
 * command succeeds once space is freed. Real data: copies of system directories and an ext4
 * image built from one.
 */
describe('a full disk during backup, restore, seed create and seed consume', { timeout: 300_000, skip: canMount ? false : 'needs root to mount a tmpfs' }, () => {
  let work: string
  let tree: string
  let image: string
  /** a repository on the ordinary disk holding `files` (the tree) and `disk` (the image) */
  let src: string
  let srcPeer: string
  /** a seed of `files`, written on the ordinary disk */
  let seedDir: string
  const mounts: Tmpfs[] = []
  const mount = async (name: string, bytes: number): Promise<Tmpfs> => {
    const fs = await Tmpfs.mount(join(work, name), bytes)
    mounts.push(fs)
    return fs
  }

  before(async () => {
    work = await tempDir('drcore-disk-full-')
    tree = join(work, 'tree')
    image = join(work, 'disk.img')
    await copySystemDirs(tree, TREE_SOURCES)
    await buildImage(image, IMAGE_SOURCES, work)
    src = join(work, 'src')
    srcPeer = (await json(['init', '--repo', src, '--name', 'src', '--listen', '/ip4/127.0.0.1/tcp/0', '--api-port', '0'])).peerId
    await json(['backup', 'files', tree, '--repo', src])
    await json(['backup', 'disk', image, '--repo', src])
    await assertVerifies(src)
    seedDir = join(work, 'seed')
    await json(['seed', 'create', '--machines', 'files', '--out', seedDir, '--max-size', '4M', '--repo', src])
  })

  after(async () => {
    for (const fs of mounts) await fs.unmount().catch(() => {})
    await removeDir(work)
  })

  test('backup: one line naming the pack; what was committed stays; verify passes; the same backup succeeds once space is freed', { timeout: 120_000 }, async () => {
    const fs = await mount('backup-disk', 64 * MiB)
    try {
      const repo = join(fs.dir, 'repo')
      await json(['init', '--repo', repo, '--name', 'small', '--listen', '/ip4/127.0.0.1/tcp/0', '--api-port', '0'])
      const p1 = await json(['backup', 'web01', `tree=${tree}`, '--repo', repo])
      // less room than the seed takes (its parts carry the stored, compressed blocks), more than a few of its frames
      await fs.fillLeaving(2 * MiB)

      const backup = ['backup', 'web01', `tree=${tree}`, `disk=${image}`, '--repo', repo]
      const line = oneLine(await drcore(backup))
      assert.match(line, new RegExp(`^drcore: no space left on device writing (pack ${repo}/packs/\\d+\\.pack|index file ${repo}/index/\\S+); free space and run the command again$`))
      const afterFailure = await drcore(['verify', '--repo', repo, '--json'])
      // LevelDB writes as it opens: on a disk this full it may not get that far, and says so in a line
      if (afterFailure.code !== 0) assert.match(oneLine(afterFailure), /^drcore: no space left on device .*; free space and run the command again$/)
      else assert.equal(JSON.parse(afterFailure.stdout).ok, true)

      await fs.removeFiller()
      await assertVerifies(repo)
      const points = await json(['points', 'web01', '--repo', repo])
      assert.deepEqual(points.map((p: any) => p.point), [p1.point], 'the committed point, and nothing of the failed one')
      assert.equal(points[0].complete, true)

      const p2 = await json(backup)
      assert.equal(p2.parent, p1.point)
      await assertVerifies(repo)
      const out = join(work, 'backup-restored')
      await json(['restore', 'web01', out, '--volume', 'disk', '--repo', repo])
      assert.equal(await sha256File(join(out, 'disk')), await sha256File(image))
      await removeDir(out)
    } finally {
      await fs.unmount()
    }
  })

  test('restore: one line naming the destination; what it wrote is removed; the same restore succeeds once space is freed', { timeout: 120_000 }, async () => {
    const fs = await mount('restore-disk', 64 * MiB)
    try {
      await fs.fillLeaving(12 * MiB)
      const filled = await fs.used()
      const dest = join(fs.dir, 'out', 'files')
      const line = oneLine(await drcore(['restore', 'files', dest, '--repo', src]))
      assert.match(line, new RegExp(`^drcore: no space left on device writing ${dest}/tree/\\S.*; what this restore had written into ${dest} was removed; free space and run the command again$`))
      assert.deepEqual(await readdir(fs.dir), ['.filler'], 'the directories the restore created are gone too')
      assert.ok(await fs.used() - filled < MiB, `the space is given back: ${await fs.used() - filled} bytes still used`)

      await fs.removeFiller()
      await json(['restore', 'files', dest, '--repo', src])
      assert.deepEqual(await snapshotTree(join(dest, 'tree')), await snapshotTree(tree))
    } finally {
      await fs.unmount()
    }
  })

  test('seed create: one line naming the part; no file of the seed is left; the same command succeeds once space is freed', { timeout: 120_000 }, async () => {
    const fs = await mount('seed-drive', 64 * MiB)
    try {
      // less room than the seed takes (its parts carry the stored, compressed blocks), more than a few of its frames
      await fs.fillLeaving(2 * MiB)
      const out = join(fs.dir, 'seed')
      const create = ['seed', 'create', '--machines', 'files', '--out', out, '--max-size', '4M', '--repo', src]
      const line = oneLine(await drcore(create))
      assert.match(line, new RegExp(`^drcore: no space left on device writing seed part ${out}/\\S+-\\d{4}\\.car\\.zst; removed the (part|\\d+ parts) of seed \\S+ written so far; free space and run the command again$`))
      assert.deepEqual(await readdir(out), [], 'no part and no .partial file is left for a consume to choke on')

      await fs.removeFiller()
      const seed = await json(create)
      assert.ok(seed.parts.length > 2)
      assert.deepEqual((await readdir(out)).sort(), seed.parts.map((p: any) => p.file.slice(out.length + 1)).sort())
      // what the retry wrote is a whole seed: another Core imports all of it
      const dst = join(work, 'seed-check')
      await json(['init', '--repo', dst, '--name', 'check', '--listen', '/ip4/127.0.0.1/tcp/0', '--api-port', '0'])
      await json(['peer', 'allow', srcPeer, '--repo', dst])
      const consumed = await json(['seed', 'consume', out, '--repo', dst])
      assert.equal(consumed.complete, true)
      assert.deepEqual(consumed.errors, [])
      await assertVerifies(dst)
      await removeDir(dst)
    } finally {
      await fs.unmount()
    }
  })

  test('seed consume: one line naming the pack; what was verified and stored stays; the same command succeeds once space is freed', { timeout: 120_000 }, async () => {
    const fs = await mount('consume-disk', 32 * MiB)
    try {
      const repo = join(fs.dir, 'repo')
      await json(['init', '--repo', repo, '--name', 'dst', '--listen', '/ip4/127.0.0.1/tcp/0', '--api-port', '0'])
      await json(['peer', 'allow', srcPeer, '--repo', repo])
      await fs.fillLeaving(4 * MiB)

      const line = oneLine(await drcore(['seed', 'consume', seedDir, '--repo', repo]))
      assert.match(line, new RegExp(`^drcore: no space left on device writing (pack ${repo}/packs/\\d+\\.pack|index file ${repo}/index/\\S+); ` +
        '(parts? [\\d, ]+ and )?the blocks of seed \\S+ stored before are kept; part \\d+ is not imported yet; free space and run the command again$'))

      await fs.removeFiller()
      const kept = await assertVerifies(repo)
      assert.ok(kept.blocks > 0, 'blocks verified and stored before the disk filled are kept')
      const retry = await json(['seed', 'consume', seedDir, '--repo', repo])
      assert.equal(retry.complete, true)
      assert.deepEqual(retry.errors, [])
      assert.ok(retry.parts.some((p: any) => p.state === 'already imported'), `the parts imported before the disk filled are not read again: ${JSON.stringify(retry.parts)}`)
      await assertVerifies(repo)
      const out = join(work, 'consume-restored')
      await json(['restore', 'files', out, '--repo', repo])
      assert.deepEqual(await snapshotTree(join(out, 'tree')), await snapshotTree(tree))
      await removeDir(out)
    } finally {
      await fs.unmount()
    }
  })

  test('init: one line naming the repository; nothing half-made is left; the same init succeeds once space is freed', { timeout: 60_000 }, async () => {
    const fs = await mount('init-disk', 4 * MiB)
    try {
      await fs.fillLeaving(4096)
      const repo = join(fs.dir, 'repo')
      const init = ['init', '--repo', repo, '--name', 'tiny', '--listen', '/ip4/127.0.0.1/tcp/0', '--api-port', '0']
      assert.equal(oneLine(await drcore(init)), `drcore: no space left on device creating the repository ${repo}; free space and run the command again`)
      assert.deepEqual(await readdir(fs.dir), ['.filler'])
      await fs.removeFiller()
      await json(init)
      await assertVerifies(repo)
    } finally {
      await fs.unmount()
    }
  })

  test('the seed the earlier tests read is whole on the ordinary disk', async () => {
    // guards the fixture: a seed that failed to be written would make the consume test vacuous
    const names = await readdir(seedDir)
    assert.ok(names.length > 2 && names.every(n => n.endsWith('.car.zst')), names.join(', '))
    for (const n of names) assert.ok((await stat(join(seedDir, n))).size > 0)
  })
})
