import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { MalformedError } from '../../src/errors.ts'
import { cborBlock, rawCid } from '../../src/points/blocks.ts'
import { decodeNode, compareNames } from '../../src/points/nodes.ts'
import type { Entry, Name } from '../../src/points/nodes.ts'
import { DirTreeBuilder, dirEntries, lookupEntry } from '../../src/points/dir-tree.ts'
import { FileTreeBuilder, fileChunks } from '../../src/points/file-tree.ts'
import { DEFAULT_SHAPE } from '../../src/points/shape.ts'
import type { CID } from 'multiformats/cid'

function memory () {
  const blocks = new Map<string, Uint8Array>()
  return {
    blocks,
    put: async (cid: CID, bytes: Uint8Array) => { blocks.set(cid.toString(), bytes) },
    get: async (cid: CID) => blocks.get(cid.toString()) as Uint8Array
  }
}

const file = (name: string, i: number): Entry => ({ name, type: 'file', mode: 0o644, mtime: [1700000000 + i, 0], size: i, cid: rawCid(Buffer.from(name)), ino: i })

test('a big directory is split into index and leaf nodes, each under the node budget, read back in order', async () => {
  const m = memory()
  const names = Array.from({ length: 5000 }, (_, i) => `file-${i}-${'x'.repeat(i % 200)}`).sort(compareNames)
  const builder = new DirTreeBuilder(m.put, DEFAULT_SHAPE)
  for (const [i, name] of names.entries()) await builder.add(file(name, i))
  const { cid, count } = await builder.finish()
  assert.equal(count, 5000)
  assert.ok(m.blocks.size > 5, `split into ${m.blocks.size} nodes`)
  for (const bytes of m.blocks.values()) assert.ok(bytes.length <= DEFAULT_SHAPE.maxNodeBytes)
  const root = decodeNode(cid, m.blocks.get(cid.toString())!)
  assert.ok('parts' in root)
  const back: Name[] = []
  for await (const e of dirEntries(m.get, cid)) back.push(e.name)
  assert.deepEqual(back, names)
  for (const i of [0, 1234, 4999]) assert.equal((await lookupEntry(m.get, cid, names[i]))?.size, i)
  assert.equal(await lookupEntry(m.get, cid, 'file-0-nope'), undefined)
  assert.equal(await lookupEntry(m.get, cid, 'zzz'), undefined)
})

test('adding one name to a big directory rewrites few of its nodes', async () => {
  const build = async (names: string[]) => {
    const m = memory()
    const b = new DirTreeBuilder(m.put, DEFAULT_SHAPE)
    for (const n of names) await b.add(file(n, 0))
    await b.finish()
    return new Set(m.blocks.keys())
  }
  const names = Array.from({ length: 12000 }, (_, i) => `f${i}`).sort(compareNames)
  const before = await build(names)
  const after = await build([...names, 'f1000a'].sort(compareNames))
  const fresh = [...after].filter(k => !before.has(k))
  assert.ok(before.size > 25, `${before.size} nodes`)
  assert.ok(fresh.length <= 4, `${fresh.length} of ${after.size} nodes are new`)
})

test('a file tree is balanced, its node sizes add up, and reading returns every chunk in order', async () => {
  const m = memory()
  const shape = { ...DEFAULT_SHAPE, file: { min: 2, avg: 4, max: 8 } }
  const builder = new FileTreeBuilder(m.put, shape)
  const chunks = Array.from({ length: 500 }, (_, i) => Buffer.from(`chunk ${i}`))
  for (const c of chunks) await builder.addChunk(rawCid(c), c.length)
  const { cid, size } = await builder.finish()
  assert.equal(size, chunks.reduce((s, c) => s + c.length, 0))
  const back = []
  for await (const [c, n] of fileChunks(m.get, cid)) back.push([c.toString(), n])
  assert.deepEqual(back, chunks.map(c => [rawCid(c).toString(), c.length]))
  const single = new FileTreeBuilder(m.put, shape)
  await single.addChunk(rawCid(chunks[0]), chunks[0].length)
  assert.ok((await single.finish()).cid.equals(rawCid(chunks[0])), 'a one-chunk file is its chunk')
})

test('malformed nodes are refused with the CID and the reason', () => {
  const reject = (value: unknown, why: RegExp) => {
    const block = cborBlock(value)
    assert.throws(() => decodeNode(block.cid, block.bytes), (err: any) => err instanceof MalformedError && err.message.includes(block.cid.toString()) && why.test(err.message))
  }
  const ok = file('a', 1)
  reject({ type: 'dir', entries: [file('b', 1), ok] }, /entry 1 \("a"\) is not sorted after "b"/)
  reject({ type: 'dir', entries: [{ ...ok, name: '..' }] }, /unsafe or invalid name/)
  reject({ type: 'dir', entries: [{ ...ok, name: 'a/b' }] }, /unsafe or invalid name/)
  reject({ type: 'dir', entries: [{ ...ok, owner: 'root' }] }, /unexpected field "owner"/)
  reject({ type: 'dir', entries: [{ ...ok, uid: -1 }] }, /uid is not a non-negative integer/)
  reject({ type: 'dir', entries: [{ ...ok, type: 'symlink' }] }, /a symlink needs a target/)
  reject({ type: 'dir', entries: [{ ...ok, mtime: [1, 1e9] }] }, /mtime/)
  reject({ type: 'file', size: 5, parts: [[rawCid(Buffer.from('abc')), 3]] }, /size 5 is not the sum of its parts \(3\)/)
  reject({ type: 'file', size: 0, parts: [] }, /parts is not a non-empty array/)
  reject({ type: 'tree' }, /unknown node type "tree"/)
  assert.throws(() => decodeNode(rawCid(Buffer.from('x')), new Uint8Array([0xa1])), /is not valid dag-cbor/)
  const good = cborBlock({ type: 'dir', entries: [ok] })
  assert.deepEqual((decodeNode(good.cid, good.bytes) as any).entries[0].name, 'a')
  assert.equal(dagCbor.decode(good.bytes) !== null, true)
})
