import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { cp, mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { DaemonCore, drcore, ROOT } from '../support/daemon.ts'
import { tempDir, removeDir } from '../support/dirs.ts'
import { waitFor } from '../support/wait.ts'

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

/** Objects whose keys are data (volume names, point ids, policy fields), not part of the shape. */
const FREE_FORM = new Set(['volumes', 'reasons', 'policy', 'data', 'core', 'repository', 'chunking', 'api', 'default', 'retention', 'job'])

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/**
 * Every difference between a documented shape and a printed value, key for key and into nested
 * objects and the first element of lists (where both have one).
 */
function differences (where: string, documented: unknown, printed: unknown, out: string[]): void {
  if (Array.isArray(documented)) {
    if (!Array.isArray(printed)) { out.push(`${where}: a list is documented, ${printed === null ? 'null' : typeof printed} printed`); return }
    if (documented.length > 0 && printed.length > 0) differences(`${where}[0]`, documented[0], printed[0], out)
    return
  }
  if (!isObject(documented)) {
    // a documented text, number or flag is printed as one (null stands for any value)
    if (documented !== null && (isObject(printed) || Array.isArray(printed))) out.push(`${where}: ${typeof documented} documented, ${Array.isArray(printed) ? 'a list' : 'an object'} printed`)
    return
  }
  if (Object.keys(documented).length === 0) return
  if (!isObject(printed)) {
    if (printed !== null) out.push(`${where}: an object is documented, ${Array.isArray(printed) ? 'a list' : typeof printed} printed`)
    return
  }
  const want = Object.keys(documented)
  const got = Object.keys(printed)
  const missing = want.filter(k => !got.includes(k))
  const extra = got.filter(k => !want.includes(k))
  if (missing.length + extra.length > 0) out.push(`${where}: documented but not printed: ${missing.join(', ') || '-'}; printed but not documented: ${extra.join(', ') || '-'}`)
  for (const key of want) if (got.includes(key) && !FREE_FORM.has(key)) differences(`${where}.${key}`, documented[key], printed[key], out)
}

const PEER_ID = /^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/
/** keys whose values are times */
const TIME_KEY = /(At|Until)$|^(mtime|oldest|newest)$/

/**
 * The rules every printed value keeps (docs/cli.md, "Common to every command"): a peer id
 * appears only as the `peerId` of an object that also has its `name`; every time is an ISO 8601
 * string. Event data is free-form and not walked.
 */
function contractBreaks (where: string, value: unknown, out: string[], key = ''): void {
  if (typeof value === 'string') {
    if (PEER_ID.test(value) && key !== 'peerId') out.push(`${where}: a bare peer id (a peer is {"peerId", "name"})`)
    if (TIME_KEY.test(key) && !ISO_TIME.test(value)) out.push(`${where}: ${JSON.stringify(value)} is not an ISO 8601 time`)
    return
  }
  if (TIME_KEY.test(key) && value !== null) { out.push(`${where}: ${JSON.stringify(value)} is not an ISO 8601 time`); return }
  if (Array.isArray(value)) { value.forEach((v, i) => { contractBreaks(`${where}[${i}]`, v, out, key) }); return }
  if (!isObject(value)) return
  if ('peerId' in value && !('name' in value)) out.push(`${where}: a peer without its name`)
  for (const [k, v] of Object.entries(value)) if (k !== 'data') contractBreaks(`${where}.${k}`, v, out, k)
}

/**
 * `--json` is a contract: every shape docs/cli.md shows is the one the command prints, key for
 * key and into nested objects (listings are arrays of such objects), on two real Cores: hq with
 * a machine, peers, rules and seeds, first without its daemon and then through it, and a second
 * Core it pairs with, replicates to, fetches from and hands a seed drive.
 */
describe('the --json shapes docs/cli.md documents', { timeout: 600_000 }, () => {
  let work: string
  let hq: DaemonCore
  let site: DaemonCore
  const printed = new Map<string, unknown>()
  before(async () => {
    work = await tempDir()
    const init = await drcore(['init', '--repo', join(work, 'other'), '--name', 'other', '--listen', '127.0.0.1:0', '--json'])
    assert.equal(init.code, 0, init.stderr)
    printed.set('init', JSON.parse(init.stdout))
    hq = await DaemonCore.init(work, 'hq')
    site = await DaemonCore.init(work, 'site')
    const tree = join(work, 'www', 'html')
    await mkdir(tree, { recursive: true })
    for (const file of ['/etc/passwd', '/etc/group']) await cp(file, join(tree, file.split('/').at(-1)!))
    // without the daemon: the CLI opens the repository itself
    printed.set('backup', await hq.json(['backup', 'web01', join(work, 'www')]))
    await cp('/etc/hosts', join(tree, 'hosts'))
    await hq.json(['backup', 'web01', join(work, 'www')])
    const dr = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    printed.set('peer allow', await hq.json(['peer', 'allow', dr, '--name', 'dr']))
    printed.set('tenant set', await hq.json(['tenant', 'set', 'dr', '--quota', '10G', '--retention-lock', '30d']))
    printed.set('forget', await hq.json(['forget', 'web01', '--keep-last', '1', '--dry-run']))
    printed.set('retention set', await hq.json(['retention', 'set', 'web01', '--keep-daily', '7']))
    printed.set('replicate', await hq.json(['replicate', 'web01', '--to', 'dr']))
    printed.set('seed create', await hq.json(['seed', 'create', '--all', '--out', join(work, 'seed')]))
    await hq.start()
    await site.start()
    // read-only listings at once, through the daemon (the same JSON: one table of operations)
    const listings = [
      ['config', ['config']], ['id', ['id']], ['status', ['status']], ['machines', ['machines']], ['points', ['points', 'web01']],
      ['ls', ['ls', 'web01', 'www/html']], ['events', ['events']], ['peer list', ['peer', 'list']], ['replication list', ['replication', 'list']],
      ['seed list', ['seed', 'list']], ['retention show', ['retention', 'show']], ['tenant list', ['tenant', 'list']]
    ] as Array<[string, string[]]>
    for (const [i, value] of (await Promise.all(listings.map(async ([, args]) => await hq.json(args)))).entries()) printed.set(listings[i][0], value)
    for (const [name, args] of [
      ['restore', ['restore', 'web01', join(work, 'restored')]], ['verify', ['verify']], ['repair', ['repair']],
      ['replication remove', ['replication', 'remove', 'web01', '--to', 'dr']], ['retention apply', ['retention', 'apply']], ['prune', ['prune']]
    ] as Array<[string, string[]]>) printed.set(name, await hq.json(args))

    // pairing, a job, a fetch, a seed drive handed over and one abandoned
    printed.set('peer add', await hq.json(['peer', 'add', site.address, '--name', 'site']))
    printed.set('peer requests', await waitFor('the pairing request to reach site', async () => await site.json(['peer', 'requests']), (r: unknown[]) => r.length > 0))
    printed.set('peer approve', await site.json(['peer', 'approve', hq.peerId, '--tenant', 'hq']))
    await waitFor('hq to hear the approval', async () => await hq.json(['peer', 'list']), (peers: any[]) => peers.some(p => p.peerId === site.peerId && p.canSendTo))
    await hq.json(['replicate', 'web01', '--to', 'site', '--schedule', '0 0 1 1 *'])
    printed.set('replication now', await hq.json(['replication', 'now', 'web01', '--to', 'site']))
    printed.set('replication set', await hq.json(['replication', 'set', 'web01', '--to', 'site', '--limit', '10M']))
    printed.set('fetch', await hq.json(['fetch', 'web01', '--from', 'site']))
    await hq.json(['seed', 'create', '--all', '--to', 'site', '--out', join(work, 'drive')])
    printed.set('seed consume', await site.json(['seed', 'consume', join(work, 'drive')]))
    const spare = await hq.json(['seed', 'create', '--all', '--out', join(work, 'spare')])
    printed.set('seed abandon', await hq.json(['seed', 'abandon', spare.seed]))
    printed.set('detached', await hq.json(['verify', '--detach']))
    await waitFor('the detached verify to finish', async () => await hq.json(['events']), (events: any[]) => events.filter(e => e.type === 'verify.finished').length >= 2)
  })
  after(async () => {
    await hq?.stop()
    await site?.stop()
    await removeDir(work)
  })

  test('every documented shape is checked here, and every shape checked here is documented', async () => {
    assert.deepEqual([...(await documentedShapes()).keys()].sort(), [...printed.keys()].sort())
  })

  test('each command prints the documented shape: a listing an array, the same keys, nested objects too', async () => {
    // every difference at once, so that docs/cli.md is put right in one go
    const found: string[] = []
    for (const [name, documented] of await documentedShapes()) {
      const value = printed.get(name)
      if (Array.isArray(documented) && Array.isArray(value) && value.length === 0) found.push(`${name}: the listing has no element to check`)
      differences(name, documented, value, found)
    }
    assert.deepEqual(found, [])
  })

  test('every peer is {"peerId", "name"} and every time ISO 8601, in every output', () => {
    const found: string[] = []
    for (const [name, value] of printed) contractBreaks(name, value, found)
    assert.deepEqual(found, [])
  })

  test('the contract checks find what they look for (a bare peer id, an epoch time, a peer without its name)', () => {
    const found: string[] = []
    contractBreaks('x', { to: site.peerId, mtime: [1796474982, 564411045], origin: { peerId: hq.peerId } }, found)
    assert.deepEqual(found, ['x.to: a bare peer id (a peer is {"peerId", "name"})', 'x.mtime: [1796474982,564411045] is not an ISO 8601 time', 'x.origin: a peer without its name'])
  })

  test('ls lists entries with their path in the point and their time to the nanosecond', () => {
    const entries = printed.get('ls') as Array<{ path: string, name: string, mtime: string }>
    assert.deepEqual(entries.map(e => e.path).sort(), ['www/html/group', 'www/html/hosts', 'www/html/passwd'])
    assert.ok(entries.every(e => /\.\d{9}Z$/.test(e.mtime)), entries.map(e => e.mtime).join(', '))
  })
})
