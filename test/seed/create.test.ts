import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readdir, rm, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { OfflineCore } from '../../src/core/index.ts'
import { NotFoundError, UsageError, UserError } from '../../src/errors.ts'
import { SeedPartReader } from '../../src/seed/part-reader.ts'
import { RecentBlocks } from '../../src/seed/blocks.ts'
import type { SeedCreateOutput, SeedRow } from '../../src/seed/api.ts'
import { closureOf, Machine } from './fixtures.ts'
import { openOfflineCore } from '../support/core.ts'
import { tempDir } from '../support/dirs.ts'

const MAX = 512 * 1024

/** Every data block of a seed's parts, in order, and each part's descriptors. */
async function readParts (files: string[]) {
  const blocks: string[] = []
  const bytes: number[] = []
  const parts = []
  for (const file of files) {
    const reader = await SeedPartReader.open(file)
    parts.push({ part: reader.part, seed: reader.seed })
    for await (const section of reader.sections()) {
      assert.ok(section.valid, `${file}: ${section.cid}`)
      blocks.push(section.cid.toString())
      bytes.push(section.stored.rawLength)
    }
    await reader.close()
  }
  return { blocks, bytes, parts }
}

describe('seed create: recovery points written as CAR parts', () => {
  let work: string
  let hq: OfflineCore
  const web = (): Machine => machines[1]
  const machines: Machine[] = []
  let created: SeedCreateOutput

  before(async () => {
    work = await tempDir()
    hq = await openOfflineCore('hq', work)
    const shared = randomBytes(300 * 1024)
    machines.push(new Machine('db01', join(work, 'db01')), new Machine('web01', join(work, 'web01')))
    for (const machine of machines) await machine.create(shared)
    for (let i = 0; i < 5; i++) {
      if (i > 0) await web().change()
      await web().backup(hq)
    }
    await machines[0].backup(hq)
    await machines[0].change()
    await machines[0].backup(hq)
    created = await hq.run('seedCreate', { out: join(work, 'seed'), machines: ['web01', 'db01'], maxSize: '512K' }) as SeedCreateOutput
  })
  after(async () => {
    await hq.close()
    await rm(work, { recursive: true, force: true })
  })

  test('parts are named <seed>-0001.car.zst, -0002.car.zst, ... and none is larger than --max-size', async () => {
    assert.ok(created.parts.length >= 3, `${created.parts.length} parts`)
    const names = (await readdir(join(work, 'seed'))).sort()
    assert.deepEqual(names, created.parts.map((_, i) => `${created.seed}-${String(i + 1).padStart(4, '0')}.car.zst`))
    for (const part of created.parts) {
      const size = (await stat(part.file)).size
      assert.equal(size, part.size)
      assert.ok(size <= MAX, `${basename(part.file)} is ${size} bytes`)
    }
    // the cut is greedy: every part but the last is nearly full
    for (const part of created.parts.slice(0, -1)) assert.ok(part.size > MAX - 256 * 1024 - 64, `${part.size}`)
  })

  test('the parts hold every block of every point exactly once, shared ones included', async () => {
    const expected = new Set<string>()
    const perMachine = []
    for (const machine of machines) {
      const union = new Set<string>()
      for (const point of machine.points) for (const cid of await closureOf(hq, point.id)) union.add(cid)
      perMachine.push(union.size)
      for (const cid of union) expected.add(cid)
    }
    const { blocks, bytes } = await readParts(created.parts.map(p => p.file))
    assert.equal(new Set(blocks).size, blocks.length, 'a block was written twice')
    assert.deepEqual(new Set(blocks), expected)
    assert.equal(created.blocks, expected.size)
    assert.equal(created.bytes, bytes.reduce((a, b) => a + b, 0))
    assert.equal(created.points, 7)
    assert.deepEqual(created.skipped, [])
    // the file both machines hold travels once
    assert.ok(created.blocks < perMachine[0] + perMachine[1])
  })

  test('every part carries the signed seed descriptor; its root says which part it is', async () => {
    const { parts } = await readParts(created.parts.map(p => p.file))
    assert.deepEqual(parts.map(p => p.part.part), created.parts.map(p => p.part))
    for (const [i, { part, seed }] of parts.entries()) {
      assert.equal(seed.id.toString(), created.seed)
      assert.ok(part.seed.equals(seed.id))
      assert.equal(part.blocks, created.parts[i].blocks)
      const d = seed.descriptor
      assert.equal(d.source, hq.peerId)
      assert.equal(d.sourceName, 'hq')
      assert.equal(d.target, null)
      assert.equal(d.parts, created.parts.length)
      assert.equal(d.blocks, created.blocks)
      assert.equal(d.bytes, created.bytes)
      assert.deepEqual(d.points, [...machines[0].points, ...machines[1].points].map(p => p.id))
      assert.deepEqual(d.machines.map(m => [m.machine, m.origin, m.points]), [['db01', hq.peerId, 2], ['web01', hq.peerId, 5]])
      assert.ok(d.machines.every(m => m.from <= m.to))
    }
    assert.equal(parts.reduce((n, p) => n + p.part.bytes, 0), created.bytes)
  })

  test('the seed is listed as outgoing and outstanding, with its point date range', async () => {
    const rows = await hq.run('seeds', {}) as SeedRow[]
    const row = rows.find(r => r.seed === created.seed)
    assert.ok(row)
    assert.equal(row.direction, 'outgoing')
    assert.equal(row.state, 'outstanding')
    assert.deepEqual(row.machines, ['db01', 'web01'])
    assert.equal(row.points, 7)
    assert.equal(row.parts, created.parts.length)
    const points = await hq.points.all()
    assert.equal(row.oldest, points.map(p => p.createdAt).sort()[0])
    assert.equal(row.newest, points.map(p => p.createdAt).sort().at(-1))
  })

  test('by default a seed carries what the outstanding seed-drive rules wait for, and follows them', async () => {
    const dr = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    await hq.peers.allow(dr, { name: 'dr' })
    const rules = hq.rules
    const waiting = web().points.slice(0, 3).map(p => p.id)
    await rules.add({ machine: 'web01', to: dr, seedDrive: true, seedPoints: waiting })

    const seed = await hq.run('seedCreate', { out: join(work, 'rule-seed') }) as SeedCreateOutput
    assert.equal(seed.points, 3)
    assert.equal(seed.target?.peerId, dr)
    const { parts } = await readParts(seed.parts.map(p => p.file))
    assert.deepEqual(parts[0].seed.descriptor.points, waiting)
    assert.equal(parts[0].seed.descriptor.target, dr)
    assert.equal((await rules.get('web01', dr)).seedState, 'outstanding')

    const abandoned = await hq.run('seedAbandon', { seed: seed.seed }) as any
    assert.equal(abandoned.state, 'abandoned')
    assert.deepEqual(abandoned.rules, [{ machine: 'web01', to: { peerId: dr, name: 'dr' }, seedState: 'abandoned' }])
    assert.equal((await rules.get('web01', dr)).seedState, 'abandoned')
    assert.equal((await hq.run('seeds', {}) as SeedRow[]).find(r => r.seed === seed.seed)?.state, 'abandoned')
    const events = await hq.events.list({ since: 0 })
    assert.ok(events.some(e => e.type === 'seed.abandoned' && e.data.seed === seed.seed))

    // nothing waits any more; naming the machines and the target makes the rule wait again
    await assert.rejects(hq.run('seedCreate', { out: join(work, 'none') }), /no seed-drive rule waits for a seed: name the machines/)
    const again = await hq.run('seedCreate', { out: join(work, 'again'), machines: ['web01'], to: 'dr' }) as SeedCreateOutput
    assert.equal(again.target?.peerId, dr)
    assert.equal(again.points, 5)
    assert.equal((await rules.get('web01', dr)).seedState, 'outstanding')
  })

  test('rules waiting for seeds to two Cores need --to', async () => {
    const rules = hq.rules
    const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    await rules.add({ machine: 'db01', to: other, seedDrive: true, seedPoints: [machines[0].points[0].id] })
    await assert.rejects(hq.run('seedCreate', { out: join(work, 'two') }), /send to 2 Cores .*: choose one with --to/)
    const seed = await hq.run('seedCreate', { out: join(work, 'other'), to: other }) as SeedCreateOutput
    assert.equal(seed.target?.peerId, other)
    assert.equal(seed.points, 1)
  })

  test('a machine of a cluster brings its whole cluster, by name or by rule', async () => {
    const members = [new Machine('sql1', join(work, 'sql1')), new Machine('sql2', join(work, 'sql2'))]
    const taken = []
    for (const member of members) {
      await member.create()
      taken.push((await hq.run('backup', { machine: member.name, cluster: 'sql', volumes: [{ name: 'data', path: member.tree }] }) as { point: string }).point)
    }
    const named = await hq.run('seedCreate', { out: join(work, 'cluster'), machines: ['sql2'] }) as SeedCreateOutput
    const { parts } = await readParts(named.parts.map(p => p.file))
    assert.deepEqual(parts[0].seed.descriptor.machines.map(m => [m.machine, m.cluster]), [['sql1', 'sql'], ['sql2', 'sql']])

    const target = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    await hq.rules.add({ machine: 'sql1', to: target, seedDrive: true, seedPoints: taken })
    const byRule = await hq.run('seedCreate', { out: join(work, 'cluster-rule'), to: target }) as SeedCreateOutput
    assert.equal(byRule.points, 2)
    assert.deepEqual(byRule.skipped, [])
  })

  test('bad requests are refused with one clear message', async () => {
    const out = join(work, 'refused')
    await assert.rejects(hq.run('seedCreate', { out, machines: ['web01'], all: true }), UsageError)
    await assert.rejects(hq.run('seedCreate', { out, machines: ['nope'] }), (err: any) => err instanceof NotFoundError && err.message === 'unknown machine: nope')
    await assert.rejects(hq.run('seedCreate', { out, machines: ['web01'], to: 'nobody' }), /unknown peer: nobody/)
    await assert.rejects(hq.run('seedCreate', { out, machines: ['web01'], to: hq.peerId }), /names this Core itself/)
    await assert.rejects(hq.run('seedCreate', { out, machines: ['web01'], maxSize: 'big' }), /not a size: "big"/)
    await assert.rejects(hq.run('seedCreate', { out: 'relative', machines: ['web01'] }), /must be an absolute path/)
    await assert.rejects(hq.run('seedCreate', { out, machines: ['web01'], maxSize: '64K' }), (err: any) => {
      assert.ok(err instanceof UserError)
      assert.match(err.message, /^--max-size 65536 is too small: a part needs \d+ bytes for its header and descriptors plus room for a whole block/)
      return true
    })
    await assert.rejects(readdir(out), { code: 'ENOENT' })
  })
})

describe('RecentBlocks: the bounded memory of blocks already on the seed', () => {
  test('remembers between one and two generations of keys, then forgets the oldest', () => {
    const recent = new RecentBlocks(2)
    assert.equal(recent.add('a'), true)
    assert.equal(recent.add('a'), false)
    assert.equal(recent.add('b'), true)
    assert.equal(recent.add('c'), true) // a, b become the old generation
    assert.equal(recent.add('a'), false)
    assert.equal(recent.add('d'), true)
    assert.equal(recent.add('e'), true) // c, d old; a, b forgotten
    assert.equal(recent.add('c'), false)
    assert.equal(recent.add('a'), true)
  })
})
