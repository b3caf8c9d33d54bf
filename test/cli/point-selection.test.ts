import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, cp } from 'node:fs/promises'
import { join } from 'node:path'
import { drcore } from '../support/daemon.ts'
import { tempDir, removeDir } from '../support/dirs.ts'

/** `--point` takes what `drcore points` shows: latest, a seq, or a point id or its unique start. */
describe('choosing a point', { timeout: 300_000 }, () => {
  let work: string
  let repo: string
  let ids: string[]
  const cli = async (...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> => await drcore([...args, '--repo', repo])
  const json = async (...args: string[]): Promise<any> => {
    const r = await cli(...args, '--json')
    assert.equal(r.code, 0, r.stderr)
    return JSON.parse(r.stdout)
  }
  before(async () => {
    work = await tempDir()
    repo = join(work, 'repo')
    assert.equal((await drcore(['init', '--repo', repo, '--listen', '127.0.0.1:0'])).code, 0)
    const tree = join(work, 'etc')
    await mkdir(tree)
    // real files, one more each time
    const files = ['/etc/passwd', '/etc/group', '/etc/hostname']
    for (const file of files) {
      await cp(file, join(tree, file.split('/').at(-1)!))
      await json('backup', 'web01', tree)
    }
    ids = (await json('points', 'web01')).map((p: any) => p.point)
    assert.equal(ids.length, 3)
  })
  after(async () => { await removeDir(work) })

  /** the files in a point's listing: each backup added one, so they tell the points apart */
  const filesOf = async (point: string): Promise<string[]> => (await json('ls', 'web01', '--point', point)).map((e: { name: string }) => e.name).sort()
  const FILES = [['passwd'], ['group', 'passwd'], ['group', 'hostname', 'passwd']]

  test('a seq names the point drcore points shows with it', async () => {
    const points = await json('points', 'web01')
    for (const p of points) assert.deepEqual(await filesOf(String(p.seq)), FILES[p.seq - 1])
    assert.deepEqual(await filesOf('latest'), FILES[2])
    assert.deepEqual(await filesOf(ids[1]), FILES[1])
  })

  test('a unique start of an id names that point; a start several share is one line listing their seqs', async () => {
    const shortest = (id: string): string => {
      for (let n = 1; n <= id.length; n++) if (ids.filter(other => other.startsWith(id.slice(0, n))).length === 1) return id.slice(0, n)
      return id
    }
    const prefix = shortest(ids[0])
    assert.ok(prefix.length < ids[0].length)
    assert.deepEqual(await filesOf(prefix), FILES[0])
    const restored = join(work, 'restored')
    const r = await json('restore', 'web01', restored, '--point', prefix)
    assert.equal(r.point, ids[0])
    assert.equal(r.files, 1, 'the first point holds one file')
    const ambiguous = await cli('ls', 'web01', '--point', 'bafy')
    assert.equal(ambiguous.code, 1)
    assert.equal(ambiguous.stderr, 'drcore: bafy is the start of 3 points of web01 (seq 1, 2, 3); give more of the id, or its seq\n')
  })

  test('a path starts with its volume\'s name, which a machine with one volume may leave out', async () => {
    const inside = await json('ls', 'web01', 'passwd')
    const named = await json('ls', 'web01', 'etc/passwd')
    assert.deepEqual(named, inside)
    assert.deepEqual(named.map((e: { path: string }) => e.path), ['etc/passwd'])
    const restored = join(work, 'one-file')
    assert.equal((await json('restore', 'web01', restored, '--path', 'etc/passwd')).files, 1)
  })

  test('a seq or an id the machine has no point of is one line saying what --point takes', async () => {
    for (const point of ['9', 'bafyzzz']) {
      const r = await cli('ls', 'web01', '--point', point)
      assert.equal(r.code, 1)
      assert.equal(r.stderr, `drcore: machine web01 has no recovery point ${point} (drcore points web01 lists them: latest, a seq, or an id or its start)\n`)
    }
  })

  /** runs last: it adds a point */
  test('a backup that leaves out a volume the previous point had warns; the point holds the volumes given', async () => {
    const other = join(work, 'www')
    await mkdir(other)
    await cp('/etc/hosts', join(other, 'hosts'))
    const r = await cli('backup', 'web01', other)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stderr, 'warning: the previous point of web01 (seq 3) also had volume etc, which this point does not: ' +
      'a restore of it brings back only www; name every volume in each backup to keep them all\n')
    const latest = (await json('points', 'web01')).at(-1)
    assert.deepEqual(Object.keys(latest.volumes), ['www'])
  })
})
