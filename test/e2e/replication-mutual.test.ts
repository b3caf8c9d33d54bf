import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { removeDir, tempDir } from '../support/dirs.ts'
import { DaemonCore } from '../support/daemon.ts'
import { waitFor } from '../support/wait.ts'
import { snapshotTree } from '../helpers/tree.ts'

/**
 * Mutual and multipoint-to-point on three real Cores:
 *   hq:     web01 -> dr        dr: db01 -> hq        (mutual: each approved the other)
 *   branch: mail01 -> dr                              (dr receives from hq and branch)
 */
describe('replication topologies: mutual, multipoint-to-point', () => {
  let work: string
  let hq: DaemonCore
  let dr: DaemonCore
  let branch: DaemonCore
  const trees: Record<string, string> = {}

  const makeTree = async (machine: string): Promise<string> => {
    const tree = join(work, machine)
    await mkdir(join(tree, 'conf'), { recursive: true })
    await writeFile(join(tree, 'conf', `${machine}.conf`), `name = ${machine}\n`)
    await writeFile(join(tree, 'blob.bin'), randomBytes(768 * 1024))
    trees[machine] = tree
    return tree
  }

  const hasMachine = async (core: DaemonCore, machine: string, tenant: string): Promise<boolean> =>
    (await core.api('machines') as any[]).some(m => m.machine === machine && m.tenant === tenant)

  const restoresExactly = async (core: DaemonCore, machine: string): Promise<void> => {
    const dest = join(work, `restore-${machine}-on-${core.name}`)
    const r = await core.cli(['restore', machine, dest])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(await snapshotTree(join(dest, machine)), await snapshotTree(trees[machine]))
  }

  before(async () => {
    work = await tempDir('drcore-mutual-')
    ;[hq, dr, branch] = await Promise.all(['hq', 'dr', 'branch'].map(async name => await DaemonCore.init(work, name)))
    await Promise.all([hq.start(), dr.start(), branch.start()])
    await hq.pairWith(dr)
    await dr.pairWith(hq)
    await branch.pairWith(dr)
  })
  after(async () => {
    await Promise.all([hq, dr, branch].map(async c => await c?.stop()))
    await removeDir(work)
  })

  test('mutual: hq and dr each protect a machine and replicate it to the other', async () => {
    await hq.json(['replicate', 'web01', '--to', 'dr'])
    await dr.json(['replicate', 'db01', '--to', 'hq'])
    await Promise.all([
      hq.json(['backup', 'web01', await makeTree('web01')]),
      dr.json(['backup', 'db01', await makeTree('db01')])
    ])
    await waitFor('web01 on dr', async () => await hasMachine(dr, 'web01', 'hq'), ok => ok)
    await waitFor('db01 on hq', async () => await hasMachine(hq, 'db01', 'dr'), ok => ok)
    const onHq = await hq.json(['machines'])
    assert.deepEqual(onHq.map((m: any) => [m.machine, m.tenant, m.origin.peerId]), [['db01', 'dr', dr.peerId], ['web01', '', hq.peerId]])
    await restoresExactly(hq, 'db01')
  })

  test('multipoint-to-point: dr holds points of hq and branch, each in its own tenant', async () => {
    await branch.json(['replicate', 'mail01', '--to', 'dr'])
    await branch.json(['backup', 'mail01', await makeTree('mail01')])
    await waitFor('mail01 on dr', async () => await hasMachine(dr, 'mail01', 'branch'), ok => ok)
    const onDr = await dr.json(['machines'])
    assert.deepEqual(onDr.map((m: any) => [m.machine, m.tenant, m.origin.peerId]), [
      ['db01', '', dr.peerId],
      ['mail01', 'branch', branch.peerId],
      ['web01', 'hq', hq.peerId]
    ])
    await restoresExactly(dr, 'web01')
    await restoresExactly(dr, 'mail01')
  })
})
