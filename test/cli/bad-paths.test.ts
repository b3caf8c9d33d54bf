import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { cp, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { drcore } from '../support/daemon.ts'
import { tempDir, removeDir } from '../support/dirs.ts'

const ENOENT_ADVICE = 'a folder on the way is missing and cannot be made there (a system folder such as /proc, or one removed meanwhile): choose a path on a writable disk'
const ENOTDIR_ADVICE = 'a part of the path is a file, not a folder: choose another path'

/**
 * Folders a command must create, where they cannot be: one line naming the path and what to do,
 * at once (under /proc, Node's own recursive mkdir never returned), and nothing left behind.
 */
describe('a folder that cannot be created is one line, not a hang', { timeout: 120_000 }, () => {
  let work: string
  let repo: string
  let file: string
  before(async () => {
    work = await tempDir()
    repo = join(work, 'repo')
    file = join(work, 'a-file')
    await writeFile(file, 'x')
    assert.equal((await drcore(['init', '--repo', repo, '--listen', '127.0.0.1:0'])).code, 0)
    await mkdir(join(work, 'etc'))
    await cp('/etc/passwd', join(work, 'etc', 'passwd'))
    assert.equal((await drcore(['backup', 'web01', join(work, 'etc'), '--repo', repo])).code, 0)
  })
  after(async () => { await removeDir(work) })

  const fails = async (args: string[]): Promise<string> => {
    const r = await drcore(args, { timeoutMs: 20_000 })
    assert.equal(r.code, 1, r.stderr)
    assert.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`)
    return r.stderr.trim()
  }

  test('init under /proc, and under a file', async () => {
    assert.equal(await fails(['init', '--repo', '/proc/drcore/repo']), `drcore: no such file or directory creating the repository /proc/drcore/repo; ${ENOENT_ADVICE}`)
    assert.equal(await fails(['init', '--repo', join(file, 'repo')]), `drcore: not a directory creating the repository ${join(file, 'repo')}; ${ENOTDIR_ADVICE}`)
  })

  test('restore into /proc, and seed create onto it', async () => {
    assert.match(await fails(['restore', 'web01', '/proc/drcore/out', '--repo', repo]), /^drcore: no such file or directory .*\/proc\/drcore\/out; a folder on the way is missing/)
    assert.match(await fails(['seed', 'create', '--all', '--out', '/proc/drcore/seed', '--repo', repo]), /^drcore: no such file or directory creating the seed directory \/proc\/drcore\/seed; a folder on the way is missing/)
  })
})
