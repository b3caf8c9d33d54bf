import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, lstat, mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { drcore, startCore } from '../support/daemon.ts'
import { removeDir, tempDir } from '../support/dirs.ts'

/**
 * The repository is its owner's only (issue 9): every folder 0700 and every file 0600, packs,
 * index, keys and the daemon's file alike, so a local user who is not the owner can read none of
 * it, and a root-only file that was backed up cannot be found in the packs by `grep -a`.
 */
const NOBODY = 65534
const root = process.getuid?.() === 0

/** Runs a command as `nobody`; resolves to its exit code and output. */
async function asNobody (cmd: string, args: string[]): Promise<{ code: number, stdout: string }> {
  return await new Promise(resolve => {
    execFile(cmd, args, { uid: NOBODY, gid: NOBODY }, (err, stdout) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout })
    })
  })
}

async function walk (dir: string, visit: (path: string, isDir: boolean, mode: number) => void): Promise<void> {
  for (const name of await readdir(dir)) {
    const path = join(dir, name)
    const st = await lstat(path)
    visit(path, st.isDirectory(), st.mode & 0o777)
    if (st.isDirectory()) await walk(path, visit)
  }
}

describe('a repository is readable by its owner only', { timeout: 120_000, skip: root ? false : 'runs commands as nobody, which needs root' }, () => {
  let work: string
  let repo: string
  // under 64 bytes: a pack keeps it as it is, uncompressed, so grep would find it in a readable pack
  const secret = `drcore-secret-${randomBytes(8).toString('hex')}`
  before(async () => {
    work = await tempDir('drcore-modes-')
    // the work folder itself is open to everyone: only the repository's own modes may protect it
    await chmod(work, 0o755)
    repo = join(work, 'repo')
    const data = join(work, 'data')
    await mkdir(data)
    await writeFile(join(data, 'root-only.txt'), secret + '\n', { mode: 0o600 })
    for (const args of [['init', '--repo', repo, '--api-port', '0'], ['backup', 'm', data, '--repo', repo], ['verify', '--repo', repo]]) {
      const r = await drcore(args)
      assert.equal(r.code, 0, `drcore ${args[0]}: ${r.stderr}`)
    }
  })
  after(async () => { await removeDir(work) })

  test('every folder is 0700 and every file 0600, the daemon\'s file included, and nobody can read any of them', async () => {
    const core = await startCore(repo)
    try {
      const seen: string[] = []
      await walk(repo, (path, isDir, mode) => {
        seen.push(path)
        assert.equal(mode, isDir ? 0o700 : 0o600, `${path} is ${mode.toString(8)}`)
      })
      assert.equal((await lstat(repo)).mode & 0o777, 0o700)
      for (const name of ['config.json', 'identity.key', 'daemon.json', 'packs/00000001.pack', 'index/CURRENT']) {
        assert.ok(seen.includes(join(repo, name)), `${name} exists`)
      }
      for (const path of seen) {
        const r = await asNobody('cat', [path])
        assert.notEqual(r.code, 0, `nobody can read ${path}`)
      }
    } finally {
      await core.stop()
    }
  })

  test('grep -a finds the root-only file\'s bytes in the packs as root, and nothing as nobody', async () => {
    const packs = join(repo, 'packs')
    const mine = await new Promise<string>(resolve => execFile('grep', ['-a', '-r', '-l', secret, packs], (_err, out) => resolve(out)))
    assert.match(mine, /\.pack/, 'the secret is in a pack as it is: the test can see a leak')
    const theirs = await asNobody('grep', ['-a', '-r', '-l', secret, repo])
    assert.equal(theirs.stdout, '')
    assert.notEqual(theirs.code, 0)
    const r = await drcore(['points', 'm', '--repo', repo], { uid: NOBODY, gid: NOBODY })
    assert.equal(r.code, 1)
    assert.equal(r.stderr, `drcore: repository ${repo} is not open to this user: a repository is readable by its owner only; run drcore as the user who owns it\n`)
  })

  test('verify warns once per kind when an existing repository has wider modes, and still passes', async () => {
    await chmod(repo, 0o755)
    await chmod(join(repo, 'packs', '00000001.pack'), 0o644)
    await chmod(join(repo, 'identity.key'), 0o640)
    const r = await drcore(['verify', '--json', '--repo', repo])
    assert.equal(r.code, 0, r.stderr)
    const result = JSON.parse(r.stdout)
    assert.equal(result.ok, true)
    const fix = `: run "chmod -R go-rwx ${repo}" to keep the repository to its owner`
    assert.deepEqual(result.warnings.sort(), [
      `other users can read pack files (1, e.g. ${join(repo, 'packs', '00000001.pack')} is 0644)${fix}`,
      `other users can read repository folders (1, e.g. ${repo} is 0755)${fix}`,
      `other users can read the identity key (1, e.g. ${join(repo, 'identity.key')} is 0640)${fix}`
    ])
    const text = await drcore(['verify', '--repo', repo])
    assert.equal(text.stderr.split('\n').filter(l => l.startsWith('warning: ')).length, 3)
  })
})
