/**
 * `npm run demo`: starts real Cores on 127.0.0.1 in a temporary folder and walks through the
 * mission with the real CLI: recovery points, restores, verification, pairing, replication across
 * topologies, a seed drive, retention and a locked tenant. Every command it runs is printed, so the output reads as a tutorial.
 * `--keep` leaves the folder for a look around.
 */
import { spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, mkdir, writeFile, rm, appendFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'drcore.js')
const keep = process.argv.includes('--keep')
const work = await mkdtemp(join(tmpdir(), 'drcore-demo-'))
const daemons: ChildProcess[] = []
process.on('SIGINT', () => { for (const d of daemons) d.kill('SIGTERM'); process.exit(130) })

const bold = (s: string): string => process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s
function section (title: string): void {
  process.stdout.write(`\n${bold(`== ${title}`)}\n`)
}

/** runs the CLI, echoing the command (with the repo path shortened) and its output */
function run (args: string[], opts: { quiet?: boolean, silent?: boolean, allowFail?: boolean } = {}): string {
  const shown = args.map(a => a.startsWith(work) ? a.replace(work, '$DEMO') : a).join(' ')
  if (opts.silent !== true) process.stdout.write(`$ drcore ${shown}\n`)
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' })
  if (opts.quiet !== true) process.stdout.write(r.stdout.replaceAll(work, '$DEMO'))
  if (r.stderr !== '') process.stdout.write(r.stderr.replaceAll(work, '$DEMO'))
  if (r.status !== 0 && opts.allowFail !== true) throw new Error(`drcore ${shown} exited ${r.status}`)
  return r.stdout
}

function json (args: string[]): any {
  return JSON.parse(run([...args, '--json'], { quiet: true, silent: true }))
}

async function main (): Promise<void> {
  process.stdout.write(`drcore demo in ${work}\n`)

  section('A Core takes recovery points of a protected machine')
  const hq = join(work, 'hq')
  run(['init', '--repo', hq, '--name', 'hq', '--listen', '/ip4/127.0.0.1/tcp/0', '--api-port', '0'])
  const data = join(work, 'web01')
  await mkdir(join(data, 'var', 'www'), { recursive: true })
  await mkdir(join(data, 'etc'), { recursive: true })
  await writeFile(join(data, 'etc', 'nginx.conf'), 'server { listen 80; }\n')
  await writeFile(join(data, 'var', 'www', 'index.html'), '<h1>web01</h1>\n')
  await writeFile(join(data, 'var', 'www', 'logo.bin'), randomBytes(3 * 1024 * 1024))
  run(['backup', 'web01', data, '--repo', hq])
  await appendFile(join(data, 'var', 'www', 'index.html'), '<p>updated</p>\n')
  await writeFile(join(data, 'var', 'www', 'new.html'), 'new page\n')
  run(['backup', 'web01', data, '--repo', hq])
  run(['machines', '--repo', hq])
  run(['points', 'web01', '--repo', hq])
  run(['ls', 'web01', 'var/www', '--repo', hq])

  section('Restores: a whole volume, and a single file from an older point')
  const points = json(['points', 'web01', '--repo', hq])
  run(['restore', 'web01', join(work, 'restored'), '--repo', hq])
  const diff = spawnSync('diff', ['-r', data, join(work, 'restored', 'web01')], { encoding: 'utf8' })
  process.stdout.write(diff.status === 0 ? 'diff -r: restored volume is identical to the source\n' : `diff -r found differences:\n${diff.stdout}`)
  run(['restore', 'web01', join(work, 'old-file'), '--point', points[0].point, '--path', 'var/www/index.html', '--repo', hq])

  section('Verification')
  run(['verify', '--repo', hq])

  section('Four Cores on 127.0.0.1: head office, branch office, DR site, and a service provider')
  const branch = join(work, 'branch')
  const dr = join(work, 'dr')
  const msp = join(work, 'msp')
  for (const [repo, name] of [[branch, 'branch'], [dr, 'dr'], [msp, 'msp']]) {
    run(['init', '--repo', repo, '--name', name, '--listen', '/ip4/127.0.0.1/tcp/0', '--api-port', '0'], { quiet: true })
  }
  for (const repo of [hq, branch, dr, msp]) await startDaemon(repo)
  const address = (repo: string): string => json(['id', '--repo', repo]).addresses[0]
  process.stdout.write('(each Core runs "drcore start"; the commands below go through its API)\n')

  section('Pairing: a request, and the operator approves it')
  run(['peer', 'add', address(branch), '--name', 'branch', '--repo', hq])
  run(['peer', 'requests', '--repo', branch])
  run(['peer', 'approve', 'hq', '--repo', branch])
  // the rest of the mesh: branch -> dr, hq -> dr, dr -> hq (mutual), hq -> msp (hosted, tenant acme)
  run(['peer', 'add', address(dr), '--name', 'dr', '--repo', branch], { quiet: true })
  run(['peer', 'approve', 'branch', '--repo', dr], { quiet: true })
  run(['peer', 'add', address(dr), '--name', 'dr', '--repo', hq], { quiet: true })
  run(['peer', 'approve', 'hq', '--repo', dr], { quiet: true })
  run(['peer', 'add', address(hq), '--name', 'hq', '--repo', dr], { quiet: true })
  run(['peer', 'approve', 'dr', '--repo', hq], { quiet: true })
  const hqId = json(['id', '--repo', hq]).peerId
  run(['peer', 'allow', hqId, '--name', 'hq', '--tenant', 'acme', '--repo', msp])
  run(['peer', 'add', address(msp), '--name', 'msp', '--repo', hq], { quiet: true })
  await waitUntil('pairing decisions reach the requesters', () =>
    json(['peer', 'list', '--repo', hq]).filter((p: any) => p.canSendTo).length === 3 &&
    json(['peer', 'list', '--repo', branch]).some((p: any) => p.canSendTo))
  run(['peer', 'list', '--repo', hq])

  section('Rules make the topology: hq -> branch -> dr (multi-hop), hq -> dr (point-to-multipoint), dr -> hq (mutual)')
  run(['replicate', 'hq/web01', '--to', 'dr', '--repo', branch])
  run(['replicate', 'web01', '--to', 'branch', '--repo', hq])
  run(['replicate', 'web01', '--to', 'dr', '--repo', hq])
  const dbData = join(work, 'db01')
  await mkdir(dbData)
  await writeFile(join(dbData, 'tables.dat'), randomBytes(2 * 1024 * 1024))
  run(['backup', 'db01', dbData, '--repo', dr])
  run(['replicate', 'db01', '--to', 'hq', '--repo', dr])
  run(['replication', 'now', 'web01', '--to', 'branch', '--repo', hq])
  run(['replication', 'now', 'web01', '--to', 'dr', '--repo', hq])
  run(['replication', 'now', 'db01', '--to', 'hq', '--repo', dr])
  await waitUntil('web01 reaches dr by both paths and db01 reaches hq', () =>
    json(['machines', '--repo', dr]).filter((m: any) => m.machine === 'web01').length === 2 &&
    json(['machines', '--repo', hq]).some((m: any) => m.machine === 'db01'))
  run(['replication', 'list', '--repo', hq])
  run(['machines', '--repo', dr])

  section('Restore at the DR site: byte-identical')
  run(['restore', 'hq/web01', join(work, 'dr-restore'), '--repo', dr])
  report(spawnSync('diff', ['-r', data, join(work, 'dr-restore', 'web01')], { encoding: 'utf8' }), 'web01 restored on dr')
  run(['restore', 'dr/db01', join(work, 'hq-restore'), '--repo', hq])
  report(spawnSync('diff', ['-r', dbData, join(work, 'hq-restore', 'db01')], { encoding: 'utf8' }), 'db01 restored on hq (mutual replication)')

  section('A hosted target with a seed drive: old points travel on disk, new ones over the network')
  run(['replicate', 'web01', '--to', 'msp', '--seed-drive', '--repo', hq])
  await writeFile(join(data, 'var', 'www', 'today.html'), 'today\n')
  run(['backup', 'web01', data, '--repo', hq])
  await waitUntil('the new point reaches msp', () => json(['machines', '--repo', msp]).some((m: any) => m.machine === 'web01'))
  run(['points', 'web01', '--repo', msp])
  run(['restore', 'web01', join(work, 'msp-refused'), '--repo', msp], { allowFail: true })
  run(['seed', 'create', '--out', join(work, 'seed-drive'), '--max-size', '2M', '--repo', hq])
  run(['seed', 'list', '--repo', hq])
  run(['seed', 'consume', join(work, 'seed-drive'), '--repo', msp])
  run(['points', 'web01', '--repo', msp])
  run(['restore', 'web01', join(work, 'msp-restore'), '--repo', msp])
  report(spawnSync('diff', ['-r', data, join(work, 'msp-restore', 'web01')], { encoding: 'utf8' }), 'web01 restored on msp after the seed')

  section('Retention: a policy, forget, prune; and a locked tenant survives a delete from its source')
  run(['tenant', 'set', 'acme', '--retention-lock', '30d', '--repo', msp])
  run(['forget', 'web01', '--keep-last', '1', '--repo', hq])
  run(['prune', '--repo', hq])
  // whoever holds hq now (an operator's mistake, or ransomware) asks msp to delete its replicas
  run(['replication', 'remove', 'web01', '--to', 'msp', '--delete-remote', '--repo', hq], { allowFail: true })
  run(['tenant', 'list', '--repo', msp])
  run(['restore', 'web01', join(work, 'msp-locked'), '--repo', msp])
  report(spawnSync('diff', ['-r', data, join(work, 'msp-locked', 'web01')], { encoding: 'utf8' }), 'web01 restored on msp after its source asked for the delete')
  run(['retention', 'set', '--default', '--keep-daily', '7', '--keep-weekly', '4', '--repo', dr])
  run(['retention', 'show', '--repo', dr])

  section('Status and events')
  run(['status', '--repo', hq])
  run(['events', '--limit', '8', '--repo', dr])
}

function report (diff: { status: number | null, stdout: string }, what: string): void {
  process.stdout.write(diff.status === 0 ? `diff -r: ${what}, identical to the source\n` : `diff -r found differences (${what}):\n${diff.stdout}`)
  if (diff.status !== 0) throw new Error(`${what}: restore differs`)
}

async function startDaemon (repo: string): Promise<void> {
  const child = spawn(process.execPath, [BIN, 'start', '--repo', repo], { stdio: ['ignore', 'pipe', 'pipe'] })
  daemons.push(child)
  let out = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`drcore start did not come up: ${out}`)), 60_000)
    child.stdout!.on('data', d => { out += d; if (out.includes('API http')) { clearTimeout(timer); resolve() } })
    child.stderr!.on('data', d => { out += d })
    child.on('exit', code => { clearTimeout(timer); reject(new Error(`drcore start exited ${code}: ${out}`)) })
  })
}

async function waitUntil (what: string, ready: () => boolean, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise(resolve => setTimeout(resolve, 500))
  }
}

try {
  await main()
  process.stdout.write(`\n${bold('Demo finished.')}\n`)
} catch (err: any) {
  process.stderr.write(`demo failed: ${err.message}\n`)
  process.exitCode = 1
} finally {
  for (const d of daemons) d.kill('SIGTERM')
  if (!keep) await rm(work, { recursive: true, force: true })
  else process.stdout.write(`kept ${work}\n`)
}
