import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { access, readFile, readlink, writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { BIN, ROOT } from '../support/daemon.ts'
import { tempDir, removeDir } from '../support/dirs.ts'
import { freePort, waitFor } from '../support/wait.ts'

const run = promisify(execFile)
const BUNDLED = JSON.parse(await readFile(join(ROOT, 'node_modules', 'node', 'package.json'), 'utf8')).version as string
/** a shell's PATH that finds the machine's node, not the project's */
const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin'
const systemNode = await run('/usr/bin/env', ['node', '--version'], { env: { PATH: SYSTEM_PATH } }).then(r => r.stdout.trim().slice(1), () => undefined)

/**
 * README, "Install": `npm run install-cli` puts `drcore` on the PATH, and it runs on the
 * project's Node 24 whatever `node` the shell finds (here the machine's Node 20), from any
 * directory, without a warning of npm's.
 */
describe('drcore on the PATH', { timeout: 60_000, skip: systemNode === undefined || systemNode === BUNDLED ? 'needs a system node other than the project\'s' : false }, () => {
  let work: string
  let bin: string
  const env = (): NodeJS.ProcessEnv => ({ PATH: `${bin}:${SYSTEM_PATH}`, HOME: work })
  before(async () => {
    work = await tempDir()
    bin = join(work, 'bin')
  })
  after(async () => { await removeDir(work) })

  test('npm run install-cli links drcore into the directory given, and it runs on the project\'s Node from elsewhere', async () => {
    const installed = await run('npm', ['run', '--silent', 'install-cli', '--', '--dir', bin], { cwd: ROOT, env: { ...process.env, PATH: SYSTEM_PATH } })
    assert.equal(await readlink(join(bin, 'drcore')), BIN)
    assert.match(installed.stdout, new RegExp(`${join(bin, 'drcore')} -> ${BIN}`))
    const r = await run('drcore', ['--version'], { cwd: work, env: env() })
    assert.equal(r.stdout.trim(), `drcore 0.1.0 (Node ${BUNDLED})`)
    assert.equal(r.stderr, '')
    assert.notEqual(systemNode, BUNDLED)
  })

  test('commands work through the launcher, with their output and exit status', async () => {
    const repo = join(work, 'repo')
    const init = await run('drcore', ['init', '--repo', repo, '--name', 'launched', '--json'], { cwd: work, env: env() })
    assert.equal(JSON.parse(init.stdout).name, 'launched')
    assert.equal(init.stderr, '')
    const missing = await run('drcore', ['points', 'web01', '--repo', join(work, 'none')], { cwd: work, env: env() }).then(() => assert.fail('succeeded'), err => err)
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /^drcore: no drcore repository at .*none/)
    const usage = await run('drcore', ['no-such-command'], { cwd: work, env: env() }).then(() => assert.fail('succeeded'), err => err)
    assert.equal(usage.code, 2)
  })

  test('a SIGTERM sent to the launcher stops the Core it started', async () => {
    const repo = join(work, 'daemon')
    await run('drcore', ['init', '--repo', repo, '--listen', `/ip4/127.0.0.1/tcp/${await freePort()}`, '--api-port', '0'], { cwd: work, env: env() })
    const child = spawn(join(bin, 'drcore'), ['start', '--repo', repo], { cwd: work, env: env(), stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', d => { out += d })
    child.stderr.on('data', d => { out += d })
    const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))
    try {
      await waitFor('the Core to start', async () => out, text => text.includes('API http'), 30_000, 100)
      child.kill('SIGTERM')
      assert.equal(await exited, 0)
      assert.match(out, /SIGTERM: stopping/)
      await assert.rejects(access(join(repo, 'daemon.json')), 'the Core removed daemon.json as it stopped')
    } finally {
      child.kill('SIGKILL')
    }
  })

  test('install-cli leaves a drcore that is not its symlink alone', async () => {
    const other = join(work, 'other')
    await mkdir(other)
    await writeFile(join(other, 'drcore'), '#!/bin/sh\n')
    const r = await run(process.execPath, [join(ROOT, 'scripts', 'install-cli.ts'), '--dir', other]).then(() => assert.fail('succeeded'), err => err)
    assert.equal(r.code, 1)
    assert.match(r.stderr, /drcore exists and is not a symlink/)
    assert.equal(await readFile(join(other, 'drcore'), 'utf8'), '#!/bin/sh\n')
  })
})
