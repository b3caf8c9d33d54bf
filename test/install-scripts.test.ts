import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'

const ROOT = join(import.meta.dirname, '..')
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'))
const policy: Record<string, boolean> = pkg.allowScripts ?? {}

/** Dependencies whose install scripts npm would run, by name, with their locked versions. */
function withInstallScripts (): Map<string, string> {
  const found = new Map<string, string>()
  for (const [path, entry] of Object.entries<any>(lock.packages)) {
    if (entry.hasInstallScript === true && path !== '') found.set(path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length), entry.version)
  }
  return found
}

/**
 * The set-up contract under npm 12, which runs a dependency's install script only when
 * package.json's `allowScripts` allows it: the project needs exactly one, the `node` package's
 * (it installs the Node 24 the project runs on); LevelDB, koffi and swc (the dependency check's
 * TypeScript parser) load the binaries they ship.
 * The lockfile carries no registry URLs, so npm can verify names but not versions: entries are
 * by name.
 */
describe('install scripts: what npm may run when the project is installed', { timeout: 30_000 }, () => {
  test('package.json decides about every dependency with an install script, and names no other', () => {
    const scripted = withInstallScripts()
    const undecided = [...scripted.keys()].filter(name => !(name in policy))
    assert.deepEqual(undecided, [], 'npm 12 silently skips an undecided script; allow or deny it in allowScripts (npm install-scripts ls)')
    const stale = Object.keys(policy).filter(name => !scripted.has(name))
    assert.deepEqual(stale, [], 'allowScripts names a package without an install script (npm install-scripts prune)')
    for (const key of Object.keys(policy)) assert.doesNotMatch(key, /@[\d^~<>=*]/, `${key}: a version cannot be verified without registry URLs in the lockfile, so npm refuses such an allow entry`)
  })

  test('only the node package may run its script, and it gave the project its own Node', () => {
    assert.deepEqual(Object.entries(policy).filter(([, allowed]) => allowed).map(([name]) => name), ['node'])
    const locked = lock.packages['node_modules/node'].version
    const version = execFileSync(join(ROOT, 'node_modules', '.bin', 'node'), ['--version'], { encoding: 'utf8' }).trim()
    assert.equal(version, `v${locked}`, 'node_modules/.bin/node is the Node the node package installed')
  })

  test('LevelDB and koffi load the binaries their packages ship, without a build', async () => {
    const require = createRequire(join(ROOT, 'package.json'))
    const classicLevel = join(ROOT, 'node_modules', 'classic-level')
    const binding = createRequire(join(classicLevel, 'package.json'))('node-gyp-build').path(classicLevel)
    assert.match(binding, /\/prebuilds\//, `classic-level loads a prebuilt binary: ${binding}`)
    assert.equal(existsSync(join(ROOT, 'node_modules', 'koffi', 'build')), false, 'koffi was not built here')
    const koffi = (await import(require.resolve('koffi'))).default
    assert.equal(koffi.version, lock.packages['node_modules/koffi'].version, 'koffi loaded its native module (from @koromix/koffi-<platform>)')
  })
})
