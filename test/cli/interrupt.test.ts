import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readdir, stat } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
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
  return await interrupted(['backup', machine, BIG, '--repo', repo], async () => await packBytes(repo) > before + 1024 * 1024)
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

/** Regular files under `dir` (0 when it does not exist). */
async function fileCount (dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])
  return entries.filter(e => e.isFile()).length
}

/** The CLI in a child process, interrupted (SIGINT, as Ctrl-C sends) once `started` holds. */
async function interrupted (args: string[], started: () => Promise<boolean>): Promise<{ code: number | null, stderr: string, stdout: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', d => { stdout += d })
  child.stderr.on('data', d => { stderr += d })
  const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))
  try {
    await waitFor(`drcore ${args[0]} to start`, started, ok => ok, 60_000, 50)
    child.kill('SIGINT')
    return { code: await exited, stdout, stderr }
  } finally {
    child.kill('SIGKILL')
  }
}

/**
 * The same Ctrl-C for the other long commands: restore (with and without the daemon) and seed
 * create stop where they are, say what that leaves, exit 130; the Core does not carry on.
 * Real files: a point of /usr/lib/gcc (about 120 MB) restores for long enough to be stopped.
 */
describe('Ctrl-C during restore and seed create', { timeout: 300_000 }, () => {
  let work: string
  let core: DaemonCore
  let files: number
  before(async () => {
    work = await tempDir()
    core = await DaemonCore.init(work, 'hq')
    await core.json(['backup', 'gcc01', '/usr/lib/gcc'])
    files = await fileCount('/usr/lib/gcc')
  })
  after(async () => {
    await core?.stop()
    await removeDir(work)
  })

  const restoreStopped = async (dest: string): Promise<void> => {
    const r = await interrupted(['restore', 'gcc01', dest, '--repo', core.repo], async () => await fileCount(dest) > 0)
    assert.equal(r.code, 130, r.stderr)
    assert.match(r.stderr, new RegExp(`^stopping the restore of gcc01 \\(Ctrl-C again to leave without waiting\\)\ndrcore: interrupted: the restore of gcc01 stopped; what was restored so far stays in ${dest}\n$`))
    const left = await fileCount(dest)
    await sleep(1500)
    assert.equal(await fileCount(dest), left, 'nothing goes on writing once the command said it stopped')
    assert.ok(left < files, `a part of the ${files} files (${left})`)
  }

  test('without the daemon, Ctrl-C stops a restore and keeps what it wrote', async () => {
    await restoreStopped(join(work, 'restore-offline'))
  })

  test('through the daemon, Ctrl-C stops the restore in the Core', async () => {
    await core.start()
    await restoreStopped(join(work, 'restore-online'))
  })

  test('through the daemon, Ctrl-C stops seed create; no seed is recorded and its parts are removed', async () => {
    const out = join(work, 'drive')
    const r = await interrupted(['seed', 'create', '--all', '--max-size', '4M', '--out', out, '--repo', core.repo], async () => await fileCount(out) > 1)
    assert.equal(r.code, 130, r.stderr)
    assert.match(r.stderr, new RegExp(`drcore: interrupted: the seed drive stopped; no seed was recorded, and the parts it had written in ${out} were removed\\n$`))
    assert.deepEqual(await core.json(['seed', 'list']), [])
    assert.equal(await fileCount(out), 0, 'no part of a seed that was not recorded is left to consume')
  })

  test('restore --detach returns at once and the Core restores everything', async () => {
    const dest = join(work, 'restore-detached')
    const r = await core.cli(['restore', 'gcc01', dest, '--detach'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^the restore of gcc01 goes on in the Core \(operation [0-9a-f-]{36}\); drcore events shows how it ends\n$/)
    await waitFor('the detached restore', async () => await fileCount(dest), n => n === files, 120_000, 500)
  })
})
