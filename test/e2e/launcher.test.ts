import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readdir, readFile, readlink, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BIN, drcore } from '../support/daemon.ts'
import { removeDir, tempDir } from '../support/dirs.ts'
import { waitFor } from '../support/wait.ts'

/**
 * bin/drcore.js runs `backup` and `restore` in a Node whose V8 young generation is small (their
 * peak RSS, docs/benchmarks.md): it replaces itself (execve) with a Node started with
 * --max-semi-space-size. The process stays the one its parent started: same pid, so a kill -9
 * of that pid still ends the backup.
 */
const TIMEOUT = 120_000

describe('the launcher gives backup a small young generation, in the same process', { timeout: TIMEOUT }, () => {
  let work: string
  let repo: string
  let volume: string

  before(async () => {
    work = await tempDir('drcore-launcher-')
    repo = join(work, 'repo')
    // a sparse 1 TiB file: its backup reads zeros for far longer than the test looks at it
    volume = join(work, 'disk.img')
    await writeFile(volume, '')
    await truncate(volume, 2 ** 40)
    const init = await drcore(['init', '--repo', repo, '--name', 'hq', '--listen', '/ip4/127.0.0.1/tcp/0', '--api-port', '0'])
    assert.equal(init.code, 0, init.stderr)
  })
  after(async () => { await removeDir(work) })

  /** Starts `node [nodeFlags] bin/drcore.js backup ...`, waits for its command line to show the semi-space flag, kills it. */
  async function semiSpaceFlagsOfBackup (nodeFlags: string[]): Promise<string[]> {
    const child = spawn(process.execPath, [...nodeFlags, BIN, 'backup', 'box', volume, '--repo', repo], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', d => { stderr += d })
    const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.on('exit', (code, signal) => resolve({ code, signal })))
    try {
      const cmdline = async (): Promise<string[]> => (await readFile(`/proc/${child.pid as number}/cmdline`, 'utf8').catch(() => '')).split('\0')
      // after the execve the same pid runs the CLI proper, which opens the repository's index
      const args = await waitFor('the backup running under its final command line', cmdline,
        argv => argv.some(a => a.startsWith('--max-semi-space-size')) || (nodeFlags.length > 0 && argv.includes('backup')), 30_000, 20)
      await waitFor('the backup reading its volume', async () => child.exitCode === null && await repoLocked(child.pid as number), locked => locked, 30_000, 50)
      return args.filter(a => a.startsWith('--max-semi-space-size'))
    } finally {
      child.kill('SIGKILL')
      const { signal } = await exited
      assert.equal(signal, 'SIGKILL', `the backup died of the kill sent to the pid its parent started (stderr: ${stderr})`)
    }
  }

  /**
   * The started process holds the repository's index open (its LevelDB LOCK file is among its
   * open files). Looked at from outside: a probe that opened the repository itself would take the
   * lock whenever it came before the backup, and the backup would stop as "in use".
   */
  async function repoLocked (pid: number): Promise<boolean> {
    const lock = join(repo, 'index', 'LOCK')
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])
    for (const fd of fds) {
      if (await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '') === lock) return true
    }
    return false
  }

  test('`drcore backup` runs with --max-semi-space-size=4 under the pid its parent started', async () => {
    assert.deepEqual(await semiSpaceFlagsOfBackup([]), ['--max-semi-space-size=4'])
  })

  test("an operator's own --max-semi-space-size is kept, not replaced", async () => {
    assert.deepEqual(await semiSpaceFlagsOfBackup(['--max-semi-space-size=2']), ['--max-semi-space-size=2'])
  })
})

describe('the launcher keeps compiled code in the user\'s own cache', { timeout: TIMEOUT }, () => {
  let home: string
  before(async () => { home = await tempDir('drcore-home-') })
  after(async () => { await removeDir(home) })

  test('a command fills ~/.cache/drcore/compile, and the next one runs from it with the same output', async () => {
    const env = { HOME: home }
    const first = await drcore(['--help'], { env })
    assert.equal(first.code, 0, first.stderr)
    const cache = join(home, '.cache', 'drcore', 'compile')
    const entries = await readdir(cache, { recursive: true })
    assert.ok(entries.length > 0, 'the cache holds compiled modules after one command')
    const second = await drcore(['--help'], { env })
    assert.equal(second.code, 0, second.stderr)
    assert.equal(second.stdout, first.stdout)
    assert.equal(second.stderr, '')
  })

  test('without a writable home the command runs as before', async () => {
    const r = await drcore(['--help'], { env: { HOME: '/dev/null/nowhere' } })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /Usage: drcore/)
  })
})
