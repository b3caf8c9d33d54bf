/**
 * `node scripts/console-demo.ts [--screenshots] [--keep]`: starts real Cores on 127.0.0.1 in a
 * temporary folder and builds a realistic state for the web console: a few machines (one with two
 * chains), an orphan waiting for a seed drive, peers in every state (connected, paused, denied,
 * offline, a pending request), a rule running under a bandwidth limit, seed drives.
 *
 *   --screenshots  writes a PNG of each console page to docs/console/ (Chromium, 1280×800)
 *   --keep         leaves the Cores running and prints the console's login link (Ctrl-C stops)
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { HttpCoreClient } from '../src/api/client.ts'
import type { OperationName } from '../src/api/operations.ts'
import { initRepository } from '../src/repo/index.ts'
import { freePort, waitFor } from '../test/support/wait.ts'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const BIN = join(ROOT, 'bin', 'drcore.js')
const screenshots = process.argv.includes('--screenshots')
const keep = process.argv.includes('--keep')
const work = await mkdtemp(join(tmpdir(), 'drcore-console-demo-'))
const running: ChildProcess[] = []

interface DemoCore {
  name: string
  repo: string
  address: string
  peerId: string
  api: (name: OperationName, input?: Record<string, unknown>) => Promise<any>
  loginUrl: string
  stop: () => Promise<void>
}

function log (line: string): void {
  process.stdout.write(line + '\n')
}

async function core (name: string): Promise<DemoCore> {
  const repo = join(work, name)
  const port = await freePort()
  const { peerId } = await initRepository(repo, { name, listen: [`/ip4/127.0.0.1/tcp/${port}`], apiPort: 0 })
  const child = spawn(process.execPath, [BIN, 'start', '--repo', repo], { stdio: ['ignore', 'pipe', 'pipe'] })
  running.push(child)
  let out = ''
  child.stdout.on('data', d => { out += d })
  child.stderr.on('data', d => { out += d })
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  for (let i = 0; !out.includes('console http'); i++) {
    if (i > 600 || child.exitCode != null) throw new Error(`${name} did not start: ${out}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  const info = JSON.parse(await readFile(join(repo, 'daemon.json'), 'utf8'))
  const client = new HttpCoreClient(info)
  log(`started ${name}`)
  return {
    name,
    repo,
    peerId: peerId.toString(),
    address: `/ip4/127.0.0.1/tcp/${port}/p2p/${peerId.toString()}`,
    api: async (op, input = {}) => await client.call(op, input),
    loginUrl: /console (\S+)/.exec(out)![1],
    stop: async () => { child.kill('SIGTERM'); await exited }
  }
}

/** A machine's data folder with a few files; `change` edits it between backups. */
async function machineData (name: string, bigBytes = 256 * 1024): Promise<{ path: string, change: (n: number) => Promise<void> }> {
  const path = join(work, 'data', name)
  await mkdir(join(path, 'etc'), { recursive: true })
  await mkdir(join(path, 'var', 'lib'), { recursive: true })
  await writeFile(join(path, 'etc', `${name}.conf`), `# ${name}\nlisten = 8080\n`)
  await writeFile(join(path, 'var', 'lib', 'data.bin'), randomBytes(bigBytes))
  await writeFile(join(path, 'var', 'lib', 'zeros.bin'), Buffer.alloc(bigBytes))
  return {
    path,
    change: async (n: number) => {
      await appendFile(join(path, 'etc', `${name}.conf`), `# change ${n}\n`)
      await writeFile(join(path, 'var', 'lib', `new-${n}.bin`), randomBytes(64 * 1024))
    }
  }
}

async function backup (c: DemoCore, machine: string, path: string, base = false): Promise<void> {
  await c.api('backup', { machine, volumes: [{ name: 'data', path }], base })
}

async function main (): Promise<void> {
  log(`console demo in ${work}`)
  const [hq, dr, branch] = [await core('hq'), await core('dr-site'), await core('branch')]

  // pairing: hq sends to dr-site; branch sends to hq
  await dr.api('peerAllow', { peerId: hq.peerId, name: 'hq', tenant: 'hq' })
  await hq.api('peerAdd', { address: dr.address, name: 'dr-site' })
  await hq.api('peerAllow', { peerId: branch.peerId, name: 'branch', tenant: 'branch' })
  await branch.api('peerAdd', { address: hq.address, name: 'hq' })
  await waitFor('pairing', async () => [await hq.api('peers'), await branch.api('peers')],
    ([a, b]) => a.some((p: any) => p.name === 'dr-site' && p.canSendTo) && b.some((p: any) => p.name === 'hq' && p.canSendTo), 120_000)
  // a Core that hq allowed but that is not running: offline
  const offline = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  await hq.api('peerAllow', { peerId: offline, name: 'old-site', tenant: 'old-site', address: '/ip4/127.0.0.1/tcp/9' })

  // machines on hq: web01 (one chain), db01 (two chains), fs01 (large, for a running job)
  const web = await machineData('web01')
  await backup(hq, 'web01', web.path)
  for (let i = 1; i <= 5; i++) { await web.change(i); await backup(hq, 'web01', web.path) }
  const db = await machineData('db01')
  await backup(hq, 'db01', db.path)
  for (let i = 1; i <= 3; i++) { await db.change(i); await backup(hq, 'db01', db.path) }
  await backup(hq, 'db01', db.path, true)
  await db.change(4); await backup(hq, 'db01', db.path)
  const fs = await machineData('fs01', 24 * 1024 * 1024)
  await backup(hq, 'fs01', fs.path)
  log('recovery points taken')

  // branch replicates pos01 to hq; older points wait for a seed drive, so hq holds an orphan
  const pos = await machineData('pos01')
  await backup(branch, 'pos01', pos.path)
  await pos.change(1); await backup(branch, 'pos01', pos.path)
  await branch.api('ruleAdd', { machine: 'pos01', to: 'hq', seedDrive: true })
  await branch.api('seedCreate', { out: join(work, 'seed-branch'), to: 'hq' })
  await pos.change(2); await backup(branch, 'pos01', pos.path)
  await waitFor('the orphan on hq', async () => await hq.api('status'), o => o.machines.some((m: any) => m.machine === 'pos01' && m.orphans > 0), 120_000)
  log('orphan on hq')

  // rules on hq
  await hq.api('ruleAdd', { machine: 'web01', to: 'dr-site' })
  await hq.api('ruleAdd', { machine: 'db01', to: 'dr-site', paused: true })
  await hq.api('ruleAdd', { machine: 'fs01', to: 'dr-site', limit: '1M', paused: true })
  await waitFor('web01 on dr-site', async () => await hq.api('rules'), rules => rules.some((r: any) => r.machine === 'web01' && r.lastPoint != null && r.state === 'idle'), 120_000)
  await hq.api('seedCreate', { out: join(work, 'seed-hq'), machines: ['db01'], to: 'dr-site' })

  // a pending request and a denied peer
  const partner = await core('partner')
  await partner.api('peerAdd', { address: hq.address, name: 'hq' })
  const rogue = await core('rogue')
  await rogue.api('peerAdd', { address: hq.address, name: 'hq' })
  await hq.api('peerDeny', { peer: rogue.peerId })
  await rogue.stop()
  log('peers in every state')

  await hq.api('ruleResume', { machine: 'fs01', to: 'dr-site' })
  await waitFor('fs01 running', async () => await hq.api('rules'), rules => rules.some((r: any) => r.machine === 'fs01' && r.state === 'running' && (r.job?.bytesSent ?? 0) > 0), 120_000)

  if (screenshots) await takeScreenshots(hq.loginUrl)
  if (keep) {
    log(`\nconsole of hq: ${hq.loginUrl}\nCtrl-C stops the Cores`)
    await new Promise(resolve => process.once('SIGINT', resolve))
  }
  await partner.stop()
}

async function takeScreenshots (loginUrl: string): Promise<void> {
  const { chromium } = await import('playwright-core')
  const profile = await mkdtemp(join(tmpdir(), 'drcore-chromium-'))
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic']
  })
  try {
    const page = await browser.newPage()
    await page.goto(loginUrl)
    await page.waitForSelector('body[data-connection="live"]')
    await page.waitForSelector('.machine')
    const out = join(ROOT, 'docs', 'console')
    await mkdir(out, { recursive: true })
    for (const name of ['replication', 'overview', 'peers', 'topology', 'seeds', 'events']) {
      await page.goto(`${new URL(loginUrl).origin}/#${name}`)
      await page.waitForSelector(`body[data-page="${name}"]`)
      if (name === 'replication') {
        await page.waitForSelector('.progress[data-state="running"]', { timeout: 30_000 }).catch(async err => {
          await page.screenshot({ path: '/tmp/console-debug.png' })
          log(await page.locator('#rules').innerText())
          throw err
        })
      }
      if (name === 'overview') await page.locator('button.pt.orphan').first().click()
      await page.waitForTimeout(400)
      await page.screenshot({ path: join(out, `${name}.png`) })
      log(`docs/console/${name}.png`)
    }
  } finally {
    await browser.close()
    await rm(profile, { recursive: true, force: true })
  }
}

try {
  await main()
} finally {
  for (const child of running) if (child.exitCode == null) child.kill('SIGTERM')
  await Promise.all(running.map(async child => { if (child.exitCode == null) await new Promise(resolve => child.once('exit', resolve)) }))
  await rm(work, { recursive: true, force: true })
}
