/**
 * `npm run install-cli [-- --dir DIR]`: puts `drcore` on the PATH as a symlink to this checkout's
 * bin/drcore.js, which runs on the project's own Node 24 whatever `node` the shell finds. DIR is
 * /usr/local/bin for root, ~/.local/bin for another user. A `drcore` there that is not a symlink
 * is left alone; a symlink (an older checkout's) is replaced.
 */
import { lstat, mkdir, rename, symlink, unlink } from 'node:fs/promises'
import { homedir } from 'node:os'
import { delimiter, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const LAUNCHER = join(ROOT, 'bin', 'drcore.js')

function targetDir (argv: string[]): string {
  const at = argv.indexOf('--dir')
  if (at >= 0) {
    if (argv[at + 1] == null) fail('--dir needs a directory')
    return resolve(argv[at + 1])
  }
  return process.getuid?.() === 0 ? '/usr/local/bin' : join(homedir(), '.local', 'bin')
}

function fail (message: string): never {
  process.stderr.write(`install-cli: ${message}\n`)
  process.exit(1)
}

const dir = targetDir(process.argv.slice(2))
const link = join(dir, 'drcore')
await mkdir(dir, { recursive: true })
const existing = await lstat(link).catch(() => undefined)
if (existing != null && !existing.isSymbolicLink()) fail(`${link} exists and is not a symlink; move it away, or choose another directory with --dir`)
// a new link beside the old one, renamed over it: there is always a drcore on the PATH
const fresh = `${link}.${process.pid}.tmp`
await symlink(LAUNCHER, fresh)
try {
  await rename(fresh, link)
} catch (err: any) {
  await unlink(fresh).catch(() => {})
  fail(`cannot write ${link}: ${err.code ?? err.message}`)
}
process.stdout.write(`${link} -> ${LAUNCHER}\n`)
const onPath = (process.env.PATH ?? '').split(delimiter).some(p => resolve(p) === dir)
if (!onPath) process.stdout.write(`${dir} is not on your PATH: add it (e.g. export PATH="${dir}:$PATH" in ~/.profile)\n`)
