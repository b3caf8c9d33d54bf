import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { cp, mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { drcore, ROOT } from '../support/daemon.ts'
import { tempDir, removeDir } from '../support/dirs.ts'

/** docs/cli.md's `--json` shapes: `<!-- shape: NAME -->` and the JSON block after it. */
async function documentedShapes (): Promise<Map<string, unknown>> {
  const doc = await readFile(join(ROOT, 'docs', 'cli.md'), 'utf8')
  const shapes = new Map<string, unknown>()
  for (const m of doc.matchAll(/^<!-- shape: (.+?) -->\n```json\n([\s\S]*?)^```$/gm)) {
    assert.ok(!shapes.has(m[1]), `shape ${m[1]} is documented once`)
    shapes.set(m[1], JSON.parse(m[2]))
  }
  return shapes
}

/** The keys a value shows: of the object, or of a listing's element (undefined for an empty listing). */
function keysOf (value: unknown): { listing: boolean, keys: string[] | undefined } {
  const listing = Array.isArray(value)
  const one = listing ? (value as unknown[])[0] : value
  return { listing, keys: one == null ? undefined : Object.keys(one as object).sort() }
}

/**
 * `--json` is a contract: every shape docs/cli.md shows is the one the command prints, key for
 * key (listings are arrays of such objects), on a repository with a machine, a peer, a rule and a
 * seed. Commands that need a running Core or another Core are described in prose there.
 */
describe('the --json shapes docs/cli.md documents', { timeout: 600_000 }, () => {
  let work: string
  let repo: string
  const printed = new Map<string, unknown>()
  const json = async (...args: string[]): Promise<any> => {
    const r = await drcore([...args, '--repo', repo, '--json'])
    assert.equal(r.code, 0, `drcore ${args.join(' ')}: ${r.stderr}`)
    return JSON.parse(r.stdout)
  }
  before(async () => {
    work = await tempDir()
    repo = join(work, 'repo')
    const tree = join(work, 'www', 'html')
    await mkdir(tree, { recursive: true })
    for (const file of ['/etc/passwd', '/etc/group']) await cp(file, join(tree, file.split('/').at(-1)!))
    printed.set('init', await json('init', '--name', 'hq', '--listen', '127.0.0.1:0'))
    printed.set('backup', await json('backup', 'web01', join(work, 'www')))
    await cp('/etc/hosts', join(tree, 'hosts'))
    await json('backup', 'web01', join(work, 'www'))
    const dr = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    printed.set('peer allow', await json('peer', 'allow', dr, '--name', 'dr'))
    await json('tenant', 'set', 'dr', '--quota', '10G', '--retention-lock', '30d')
    printed.set('forget', await json('forget', 'web01', '--keep-last', '1', '--dry-run'))
    printed.set('retention set', await json('retention', 'set', 'web01', '--keep-daily', '7'))
    printed.set('replicate', await json('replicate', 'web01', '--to', 'dr'))
    printed.set('seed create', await json('seed', 'create', '--all', '--out', join(work, 'seed')))
    for (const [name, args] of [
      ['config', ['config']], ['id', ['id']], ['status', ['status']], ['machines', ['machines']], ['points', ['points', 'web01']],
      ['ls', ['ls', 'web01']], ['restore', ['restore', 'web01', join(work, 'restored')]], ['verify', ['verify']], ['repair', ['repair']],
      ['events', ['events']], ['peer list', ['peer', 'list']], ['replication list', ['replication', 'list']], ['seed list', ['seed', 'list']],
      ['replication remove', ['replication', 'remove', 'web01', '--to', 'dr']],
      ['retention show', ['retention', 'show']], ['prune', ['prune']], ['tenant list', ['tenant', 'list']]
    ] as Array<[string, string[]]>) printed.set(name, await json(...args))
  })
  after(async () => { await removeDir(work) })

  test('every documented shape is checked here, and every shape checked here is documented', async () => {
    assert.deepEqual([...(await documentedShapes()).keys()].sort(), [...printed.keys()].sort())
  })

  test('each command prints the documented shape: a listing an array, the same keys', async () => {
    // every difference at once, so that docs/cli.md is put right in one go
    const differences: string[] = []
    for (const [name, documented] of await documentedShapes()) {
      const want = keysOf(documented)
      const got = keysOf(printed.get(name))
      if (got.listing !== want.listing) differences.push(`${name}: ${want.listing ? 'an array' : 'an object'} is documented`)
      else if (got.keys === undefined) differences.push(`${name}: the listing has no element to check`)
      else {
        const missing = want.keys!.filter(k => !got.keys!.includes(k))
        const extra = got.keys.filter(k => !want.keys!.includes(k))
        if (missing.length + extra.length > 0) differences.push(`${name}: documented but not printed: ${missing.join(', ') || '-'}; printed but not documented: ${extra.join(', ') || '-'}`)
      }
    }
    assert.deepEqual(differences, [])
  })
})
