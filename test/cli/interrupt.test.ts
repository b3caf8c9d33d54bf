import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { BIN, DaemonCore } from '../support/daemon.ts'
import { tempDir, removeDir } from '../support/dirs.ts'
import { waitFor } from '../support/wait.ts'

/** Real data, large enough that a backup of it is still running when Ctrl-C comes. */
const BIG = '/usr/lib'

/** Bytes in the repository's packs: a backup has started storing. */
async function packBytes (repo: string): Promise<number> {
  const names = await readdir(join(repo, 'packs')).catch(() => [])
  let total = 0
  for (const name of names) total += (await stat(join(repo, 'packs', name)).catch(() => ({ size: 0 }))).size
  return total
}

/** `drcore backup` in a child process, interrupted (SIGINT, as Ctrl-C sends) once it has stored something. */
async function interruptedBackup (repo: string, machine: string): Promise<{ code: number | null, stderr: string, stdout: string }> {
  const before = await packBytes(repo)
  const child = spawn(process.execPath, [BIN, 'backup', machine, BIG, '--repo', repo], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', d => { stdout += d })
  child.stderr.on('data', d => { stderr += d })
  const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))
  try {
    await waitFor('the backup to store blocks', async () => await packBytes(repo), bytes => bytes > before + 1024 * 1024, 60_000, 100)
    child.kill('SIGINT')
    return { code: await exited, stdout, stderr }
  } finally {
    child.kill('SIGKILL')
  }
}

/**
 * Ctrl-C during a long command: one behaviour with and without the daemon. The operation stops
 * in the Core that runs it, the command says so and exits 130; `--detach` leaves it to the Core.
 */
describe('Ctrl-C and --detach', { timeout: 300_000 }, () => {
  let work: string
  let core: DaemonCore
  before(async () => {
    work = await tempDir()
    core = await DaemonCore.init(work, 'hq')
  })
  after(async () => {
    await core?.stop()
    await removeDir(work)
  })

  const STOPPED = 'stopping the backup of web01 (Ctrl-C again to leave without waiting)\n' +
    'drcore: interrupted: the backup of web01 stopped; no recovery point was taken (the blocks stored so far serve the next backup)\n'

  test('without the daemon, Ctrl-C stops the backup, says so, exits 130 and takes no point', async () => {
    const r = await interruptedBackup(core.repo, 'web01')
    assert.equal(r.stderr, STOPPED)
    assert.equal(r.code, 130)
    assert.deepEqual(await core.points('web01'), [])
  })

  test('through the daemon, Ctrl-C stops the backup in the Core, and the Core takes no point', async () => {
    await core.start()
    const r = await interruptedBackup(core.repo, 'web01')
    assert.equal(r.stderr, STOPPED)
    assert.equal(r.code, 130)
    const cancelled = await waitFor('the backup to end in the Core', async () => await core.events('backup.cancelled'), e => e.length > 0, 30_000)
    assert.equal(cancelled.at(-1).message, 'the backup of web01 was cancelled by its operator; no recovery point was taken')
    assert.deepEqual(await core.points('web01'), [], 'the Core did not carry on')
  })

  test('--detach returns at once through the daemon and the Core takes the point', async () => {
    const r = await core.cli(['backup', 'etc01', '/etc', '--detach'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^the backup of etc01 goes on in the Core \(operation [0-9a-f-]{36}\); drcore events shows how it ends\n$/)
    await waitFor('the detached backup', async () => await core.points('etc01'), p => p.length === 1, 120_000, 500)
  })

  test('--detach without the daemon is one line saying it needs the running Core', async () => {
    await core.stop()
    const r = await core.cli(['backup', 'etc01', '/etc', '--detach'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /^drcore: --detach needs the running Core, to carry on without this command: start it with "drcore start --repo .*"\n$/)
  })
})
