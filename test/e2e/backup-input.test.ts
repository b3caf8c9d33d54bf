import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile, chmod } from 'node:fs/promises'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { drcore, drcoreJson, BIN } from '../support/daemon.ts'
import { tempDir, removeDir } from '../support/dirs.ts'

const isRoot = process.getuid?.() === 0
const NOBODY = 65534

describe('backup input handling and terminal output', () => {
  let work: string
  let repo: string
  before(async () => {
    work = await tempDir()
    repo = join(work, 'repo')
    await drcoreJson(['init', '--repo', repo, '--api-port', '0', '--listen', '/ip4/127.0.0.1/tcp/0'])
  })
  after(async () => { await removeDir(work) })

  test('an unreadable file is skipped, listed with its reason, and the backup exits 3 with a partial point taken', async () => {
    const tree = join(work, 'tree')
    await mkdir(join(tree, 'locked-dir'), { recursive: true })
    await writeFile(join(tree, 'readable.txt'), 'fine\n')
    await writeFile(join(tree, 'unreadable.txt'), 'secret\n')
    await writeFile(join(tree, 'locked-dir', 'inside.txt'), 'x\n')
    await chmod(join(tree, 'unreadable.txt'), 0o000)
    await chmod(join(tree, 'locked-dir'), 0o000)
    // root reads everything: run the CLI as nobody, on a repository nobody may write
    const asUser = isRoot ? { uid: NOBODY, gid: NOBODY } : {}
    if (isRoot) {
      spawnSync('chmod', ['-R', 'a+rwX', repo])
      await chmod(work, 0o777)
      await chmod(tree, 0o777)
    }
    const r = await drcore(['backup', 'files01', tree, '--json', '--repo', repo], asUser)
    assert.equal(r.code, 3, r.stderr)
    const out = JSON.parse(r.stdout)
    assert.ok(out.point)
    assert.deepEqual(out.skipped.map((s: any) => [s.path, s.code]).sort(), [[join(tree, 'locked-dir'), 'EACCES'], [join(tree, 'unreadable.txt'), 'EACCES']])
    for (const s of out.skipped) assert.match(s.reason, /^permission denied: user \S+ may not read it; run the backup as a user who can, or grant read access$/, 'a sentence, not an errno code')
    assert.equal(out.partial, true, 'the point says it is not all of what was there')
    const points = JSON.parse((await drcore(['points', 'files01', '--json', '--repo', repo], asUser)).stdout)
    assert.deepEqual([points[0].partial, points[0].skipped], [true, 2])
    const ls = await drcore(['ls', 'files01', '--json', '--repo', repo], asUser)
    const entries = JSON.parse(ls.stdout)
    assert.ok(entries.some((e: any) => e.name === 'readable.txt'))
    assert.ok(!entries.some((e: any) => e.name === 'unreadable.txt'))
  })

  test('a progress bar appears on a terminal and never on a pipe or with --json', { skip: spawnSync('which', ['script']).status !== 0 ? 'util-linux script is not installed' : false }, async () => {
    const tree = join(work, 'progress')
    await mkdir(tree)
    for (let i = 0; i < 6; i++) await writeFile(join(tree, `f${i}`), randomBytes(16 * 1024 * 1024))
    // on a pipe: nothing on stderr
    const piped = await drcore(['backup', 'prog', tree, '--repo', repo])
    assert.equal(piped.code, 0, piped.stderr)
    assert.equal(piped.stderr, '')
    // on a pseudo-terminal (util-linux script): the bar is drawn
    const cmd = [process.execPath, BIN, 'backup', 'prog', tree, '--rehash', '--repo', repo].map(a => `'${a}'`).join(' ')
    const tty = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '100' } })
    assert.equal(tty.status, 0, tty.stdout)
    assert.match(tty.stdout, /backup \[#*-*\]/)
    const json = spawnSync('script', ['-qec', cmd + ' --json', '/dev/null'], { encoding: 'utf8' })
    assert.doesNotMatch(json.stdout, /backup \[/)
  })
})
