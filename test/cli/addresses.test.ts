import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { access, readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import type { Server } from 'node:net'
import { join } from 'node:path'
import { drcore, drcoreJson, startCore } from '../support/daemon.ts'
import { tempDir, removeDir } from '../support/dirs.ts'
import { DEFAULT_CHUNKING } from '../../src/chunker/index.ts'
import { freePort } from '../support/wait.ts'

/** A one-line error for the operator: `drcore: ...`, no stack. */
function oneLine (stderr: string): string {
  const lines = stderr.trimEnd().split('\n')
  assert.equal(lines.length, 1, `one line, not: ${stderr}`)
  assert.match(lines[0], /^drcore: /)
  return lines[0]
}

async function occupy (port: number): Promise<Server> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', resolve) })
  return server
}

/**
 * Where a Core listens: checked where it is entered (init, config set, start), changed with
 * drcore config or for one run with start --listen/--api, and a port in use is one line.
 */
describe('listen and API addresses', { timeout: 300_000 }, () => {
  let work: string
  before(async () => { work = await tempDir() })
  after(async () => { await removeDir(work) })

  test('init refuses a listen or API address that is no address, in one line, and creates nothing', async () => {
    const repo = join(work, 'refused')
    for (const [flag, value, why] of [
      ['--listen', '127.0.0.1:99999', /port 99999 is not 0-65535/],
      ['--listen', '/ip4/127.0.0.1/udp/4000', /a Core listens on TCP at an IP address/],
      ['--listen', '/ip4/1.2.3/tcp/4000', /not a multiaddr/],
      ['--listen', 'somewhere', /not HOST:PORT/],
      ['--api', 'localhost:80', /localhost is not an IP address/],
      ['--api-port', 'http', /not a port number/]
    ] as const) {
      const r = await drcore(['init', '--repo', repo, flag, value])
      assert.equal(r.code, 2, `${flag} ${value}`)
      assert.match(oneLine(r.stderr), new RegExp(`${flag} ${value.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: ${why.source}`))
      await assert.rejects(access(repo), 'no repository is left behind')
    }
  })

  test('init takes HOST:PORT and keeps it as a multiaddr; config get shows the settings', async () => {
    const repo = join(work, 'hostport')
    await drcoreJson(['init', '--repo', repo, '--name', 'hp', '--listen', '127.0.0.1:4000', '--listen', '[::1]:4001', '--api', '127.0.0.1:4002'])
    assert.deepEqual(await drcoreJson(['config', 'get', 'listen', '--repo', repo]), ['/ip4/127.0.0.1/tcp/4000', '/ip6/::1/tcp/4001'])
    assert.deepEqual(await drcoreJson(['config', '--repo', repo]), { version: 1, name: 'hp', listen: ['/ip4/127.0.0.1/tcp/4000', '/ip6/::1/tcp/4001'], api: { host: '127.0.0.1', port: 4002 }, chunking: DEFAULT_CHUNKING })
    const text = await drcore(['config', '--repo', repo])
    assert.equal(text.stdout, 'name   hp\nlisten /ip4/127.0.0.1/tcp/4000 /ip6/::1/tcp/4001\napi    127.0.0.1:4002\nprune  30 3 * * *\n')
    assert.equal((await drcore(['config', 'get', 'api', '--repo', repo])).stdout, '127.0.0.1:4002\n')
  })

  test('config set checks the value first: a bad one is one line and config.json stays as it was', async () => {
    const repo = join(work, 'set')
    await drcoreJson(['init', '--repo', repo, '--name', 'before', '--listen', '127.0.0.1:4000'])
    const config = join(repo, 'config.json')
    const was = await readFile(config, 'utf8')
    for (const args of [['listen', '127.0.0.1:4000', 'nowhere'], ['api', '127.0.0.1:70000'], ['name', ''], ['colour', 'blue'], ['api', '127.0.0.1:1', '127.0.0.1:2']]) {
      const r = await drcore(['config', 'set', ...args, '--repo', repo])
      assert.equal(r.code, 2, args.join(' '))
      oneLine(r.stderr)
      assert.equal(await readFile(config, 'utf8'), was)
    }
    const set = await drcore(['config', 'set', 'listen', '0.0.0.0:4100', '/ip6/::/tcp/4100', '--repo', repo])
    assert.equal(set.code, 0, set.stderr)
    assert.equal(set.stdout, 'listen /ip4/0.0.0.0/tcp/4100 /ip6/::/tcp/4100\n')
    await drcoreJson(['config', 'set', 'name', 'after', '--repo', repo])
    await drcoreJson(['config', 'set', 'api', '127.0.0.1:4101', '--repo', repo])
    assert.deepEqual(JSON.parse(await readFile(config, 'utf8')), { version: 1, name: 'after', listen: ['/ip4/0.0.0.0/tcp/4100', '/ip6/::/tcp/4100'], api: { host: '127.0.0.1', port: 4101 }, chunking: DEFAULT_CHUNKING })
  })

  test('config set prune takes a cron expression or never, and refuses anything else in one line', async () => {
    const repo = join(work, 'prune')
    await drcoreJson(['init', '--repo', repo, '--name', 'pr', '--listen', '127.0.0.1:4000'])
    assert.equal((await drcore(['config', 'get', 'prune', '--repo', repo])).stdout, '30 3 * * *\n')
    await drcoreJson(['config', 'set', 'prune', '15 2 * * 0', '--repo', repo])
    assert.deepEqual(JSON.parse(await readFile(join(repo, 'config.json'), 'utf8')).prune, { schedule: '15 2 * * 0' })
    await drcoreJson(['config', 'set', 'prune', 'never', '--repo', repo])
    assert.deepEqual(JSON.parse(await readFile(join(repo, 'config.json'), 'utf8')).prune, { schedule: null })
    assert.equal((await drcore(['config', 'get', 'prune', '--repo', repo])).stdout, 'never\n')
    const bad = await drcore(['config', 'set', 'prune', 'every night', '--repo', repo])
    assert.equal(bad.code, 2)
    assert.match(oneLine(bad.stderr), /^drcore: prune.schedule "every night" is not a cron expression/)
    assert.deepEqual(JSON.parse(await readFile(join(repo, 'config.json'), 'utf8')).prune, { schedule: null })
  })

  test('start --listen and --api override config.json for that run only', async () => {
    const repo = join(work, 'override')
    const configured = await freePort()
    await drcoreJson(['init', '--repo', repo, '--name', 'ov', '--listen', `127.0.0.1:${configured}`, '--api-port', '0'])
    const [peerPort, apiPort] = [await freePort(), await freePort()]
    const core = await startCore(repo, { args: ['--listen', `127.0.0.1:${peerPort}`, '--api', `127.0.0.1:${apiPort}`] })
    try {
      assert.match(core.output(), new RegExp(`^listening /ip4/127\\.0\\.0\\.1/tcp/${peerPort}/p2p/`, 'm'))
      assert.match(core.output(), new RegExp(`^API http://127\\.0\\.0\\.1:${apiPort}/api/v1$`, 'm'))
      const id = await drcoreJson(['id', '--repo', repo])
      assert.ok(id.addresses.every((a: string) => a.includes(`/tcp/${peerPort}/`)), JSON.stringify(id.addresses))
      assert.deepEqual(await drcoreJson(['config', 'get', 'listen', '--repo', repo]), [`/ip4/127.0.0.1/tcp/${configured}`])
    } finally {
      assert.equal(await core.stop(), 0)
    }
  })

  test('a listen port or API port in use is one line naming the address and what to do', async () => {
    const repo = join(work, 'busy')
    const port = await freePort()
    await drcoreJson(['init', '--repo', repo, '--listen', `127.0.0.1:${port}`, '--api-port', '0'])
    const taken = await occupy(port)
    try {
      const r = await drcore(['start', '--repo', repo])
      assert.equal(r.code, 1)
      assert.equal(oneLine(r.stderr), `drcore: cannot listen for peers on /ip4/127.0.0.1/tcp/${port}: another program (another Core?) uses that address; ` +
        'stop it, or give another address for this run with drcore start --listen ADDR, or for good with drcore config set listen ADDR')
    } finally {
      taken.close()
    }
    const apiPort = await freePort()
    const api = await occupy(apiPort)
    try {
      const r = await drcore(['start', '--repo', repo, '--api', `127.0.0.1:${apiPort}`])
      assert.equal(r.code, 1)
      assert.match(oneLine(r.stderr), new RegExp(`^drcore: cannot listen for the API on 127\\.0\\.0\\.1:${apiPort}: another program .* drcore start --api HOST:PORT, or for good with drcore config set api HOST:PORT$`))
      await assert.rejects(access(join(repo, 'daemon.json')), 'no daemon.json is left behind')
    } finally {
      api.close()
    }
  })

  test('a listen address edited into config.json by hand that is no address fails in one line naming the file', async () => {
    const repo = join(work, 'edited')
    await drcoreJson(['init', '--repo', repo, '--listen', '127.0.0.1:4000'])
    const path = join(repo, 'config.json')
    const config = JSON.parse(await readFile(path, 'utf8'))
    await writeFile(path, JSON.stringify({ ...config, listen: ['127.0.0.1:4000'] }))
    const r = await drcore(['start', '--repo', repo])
    assert.equal(r.code, 1)
    assert.match(oneLine(r.stderr), new RegExp(`^drcore: ${path.replace(/[.]/g, '\\.')}: "listen" 127\\.0\\.0\\.1:4000: not a multiaddr`))
  })
})
