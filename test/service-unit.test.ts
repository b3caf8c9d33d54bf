import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const ROOT = join(import.meta.dirname, '..')
/** where docs/operations.md installs the checkout */
const INSTALLED = '/opt/drcore'

/** The systemd unit docs/operations.md tells an operator to install, as its settings. */
async function documentedUnit (): Promise<{ text: string, settings: Map<string, string[]> }> {
  const doc = await readFile(join(ROOT, 'docs', 'operations.md'), 'utf8')
  const blocks = [...doc.matchAll(/^```ini\n([\s\S]*?)^```$/gm)].map(m => m[1])
  assert.equal(blocks.length, 1, 'docs/operations.md shows one unit')
  const settings = new Map<string, string[]>()
  for (const line of blocks[0].split('\n')) {
    const m = /^(\w+)=(.*)$/.exec(line)
    if (m != null) settings.set(m[1], [...(settings.get(m[1]) ?? []), m[2]])
  }
  return { text: blocks[0], settings }
}

/**
 * `drcore start` as a systemd service (docs/operations.md): the documented unit is one systemd
 * accepts, and it runs this checkout's Node on the repository it names, as a dedicated user.
 */
describe('the documented systemd unit', { timeout: 30_000 }, () => {
  test('runs drcore start with the project\'s Node on its state directory, as a dedicated user, restarted on failure', async () => {
    const { settings } = await documentedUnit()
    const one = (key: string): string => {
      const values = settings.get(key) ?? []
      assert.equal(values.length, 1, `${key}= is set once`)
      return values[0]
    }
    const repo = `/var/lib/${one('StateDirectory')}`
    assert.equal(one('ExecStart'), `${INSTALLED}/node_modules/.bin/node ${INSTALLED}/bin/drcore.js start --repo ${repo}`)
    assert.equal(one('StateDirectoryMode'), '0700')
    assert.equal(one('UMask'), '0077')
    assert.notEqual(one('User'), 'root')
    assert.equal(one('Restart'), 'on-failure')
    assert.equal(one('KillMode'), 'mixed', 'SIGTERM goes to drcore, which closes the repository')
  })

  test('passes systemd-analyze verify with this checkout in place of /opt/drcore', async (t) => {
    const { text } = await documentedUnit()
    const dir = await mkdtemp(join(tmpdir(), 'drcore-unit-'))
    try {
      const unit = join(dir, 'drcore.service')
      await writeFile(unit, text.replaceAll(INSTALLED, ROOT))
      const run = await promisify(execFile)('systemd-analyze', ['verify', unit], { cwd: dir })
        .catch((err: { code?: string | number, stderr?: string }) => {
          if (err.code === 'ENOENT') return null
          return { stdout: '', stderr: err.stderr ?? String(err) }
        })
      if (run == null) { t.skip('systemd-analyze is not installed'); return }
      // systemd before 253 does not know LogFilterPatterns= and says so; it ignores the line
      const complaints = run.stderr.split('\n').filter(l => l.trim() !== '' && !/Unknown key '?LogFilterPatterns'?/.test(l))
      assert.deepEqual(complaints, [])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
