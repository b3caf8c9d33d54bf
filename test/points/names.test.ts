import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { MalformedError } from '../../src/errors.ts'
import { cborBlock, rawCid } from '../../src/points/blocks.ts'
import { decodeNode } from '../../src/points/nodes.ts'
import type { DirLeaf, Entry } from '../../src/points/nodes.ts'
import { childPath, compareNames, displayName, isSafeName, nameBytes, nameOf, parseEscapedName } from '../../src/points/names.ts'
import { DirTreeBuilder, dirEntries, lookupEntry } from '../../src/points/dir-tree.ts'
import { DEFAULT_SHAPE } from '../../src/points/shape.ts'
import type { CID } from 'multiformats/cid'

const bytes = (...parts: Array<string | number[]>): Buffer => Buffer.concat(parts.map(p => typeof p === 'string' ? Buffer.from(p) : Buffer.from(p)))
const file = (name: Entry['name']): Entry => ({ name, type: 'file', mode: 0o644, mtime: [1_700_000_000, 0], size: 1, cid: rawCid(Buffer.from('x')) })

function memory () {
  const blocks = new Map<string, Uint8Array>()
  return {
    blocks,
    put: async (cid: CID, b: Uint8Array) => { blocks.set(cid.toString(), b) },
    get: async (cid: CID) => blocks.get(cid.toString()) as Uint8Array
  }
}

test('a name is a string when its bytes are UTF-8 and the bytes otherwise; both round-trip exactly', () => {
  assert.equal(nameOf(bytes('caf', [0xc3, 0xa9])), 'café')
  assert.equal(nameOf(bytes('line\nbreak')), 'line\nbreak')
  // a byte order mark is part of the name, not stripped
  assert.equal(nameBytes(nameOf(bytes([0xef, 0xbb, 0xbf], 'x'))).length, 4)
  for (const raw of [bytes('caf', [0xe9]), bytes('caf', [0xff]), bytes([0xed, 0xa0, 0x80]), bytes([0xc0, 0xaf]), bytes('a', [0xf4, 0x90, 0x80, 0x80])]) {
    const name = nameOf(raw)
    assert.ok(name instanceof Uint8Array, `${raw.toString('hex')} is not valid UTF-8`)
    assert.deepEqual(nameBytes(name), raw)
  }
})

test('names order by bytes: a byte name sorts where its bytes do among text names', () => {
  const names = [nameOf(bytes('caf', [0xff])), 'ok', nameOf(bytes('caf', [0xe9])), 'café', 'caf']
  const sorted = [...names].sort(compareNames).map(n => nameBytes(n).toString('hex'))
  assert.deepEqual(sorted, [bytes('caf'), bytes('caf', [0xc3, 0xa9]), bytes('caf', [0xe9]), bytes('caf', [0xff]), bytes('ok')].map(b => b.toString('hex')))
})

test('the escaped form shows each byte that is not UTF-8 as \\xHH, doubles backslashes, and reads back to the bytes', () => {
  const odd = nameOf(bytes('caf', [0xe9], ' \\x41 ✓ ', [0xff]))
  const shown = displayName(odd)
  assert.deepEqual(shown, { text: 'caf\\xe9 \\\\x41 ✓ \\xff', escaped: true })
  assert.deepEqual(nameBytes(parseEscapedName(shown.text) as Uint8Array), nameBytes(odd))
  assert.deepEqual(displayName('plain \\x41'), { text: 'plain \\x41', escaped: false })
  assert.equal(parseEscapedName('no escapes'), undefined)
  assert.equal(parseEscapedName('bad \\q'), undefined)
})

test('validity: not empty, no slash, no NUL, not . or .., at most 255 bytes, in its canonical form', () => {
  assert.ok(isSafeName('a'))
  assert.ok(isSafeName('x'.repeat(255)))
  assert.ok(isSafeName(nameOf(bytes([0xff]))))
  assert.ok(isSafeName('new\nline'))
  for (const bad of ['', '.', '..', 'a/b', 'a\0b', 'x'.repeat(256), 'é'.repeat(128), bytes([0x2f, 0xff]), bytes([0xff, 0])]) {
    assert.ok(!isSafeName(typeof bad === 'string' ? bad : new Uint8Array(bad)), JSON.stringify(String(bad)))
  }
  // bytes that are valid UTF-8 must be a text string: one encoding per name
  assert.ok(!isSafeName(new Uint8Array(bytes('abc'))))
  assert.ok(!isSafeName('\ud800'), 'a lone surrogate is no UTF-8 at all')
})

test('a directory holds names that are not UTF-8 as CBOR byte strings, UTF-8 names as text exactly as version 1 did', async () => {
  const m = memory()
  const names = ['ok', nameOf(bytes('caf', [0xe9])), nameOf(bytes('caf', [0xff])), 'café'].sort(compareNames)
  const builder = new DirTreeBuilder(m.put, DEFAULT_SHAPE)
  for (const n of names) await builder.add(file(n))
  const { cid } = await builder.finish()
  const raw = dagCbor.decode(m.blocks.get(cid.toString())!) as DirLeaf
  assert.deepEqual(raw.entries.map(e => typeof e.name === 'string' ? 'text' : 'bytes'), ['text', 'bytes', 'bytes', 'text'])
  const back: Buffer[] = []
  for await (const e of dirEntries(m.get, cid)) back.push(nameBytes(e.name))
  assert.deepEqual(back, names.map(nameBytes))
  assert.equal((await lookupEntry(m.get, cid, nameOf(bytes('caf', [0xff]))))?.size, 1)
  assert.equal(await lookupEntry(m.get, cid, 'caf\ufffd'), undefined, 'the byte name is not its lossy decoding')
  // a UTF-8-only directory encodes to the same bytes as version 1 (text names): no change for old trees
  const v1 = cborBlock({ type: 'dir', entries: [file('a'), file('b')] })
  const again = memory()
  const b2 = new DirTreeBuilder(again.put, DEFAULT_SHAPE)
  await b2.add(file('a'))
  await b2.add(file('b'))
  assert.ok((await b2.finish()).cid.equals(v1.cid))
})

test('a large directory of byte names splits into index nodes whose first names are bytes, and lookups find every name', async () => {
  const m = memory()
  const shape = { ...DEFAULT_SHAPE, dir: { min: 2, avg: 4, max: 8 } }
  const names = Array.from({ length: 300 }, (_, i) => nameOf(bytes(`n${i}-`, [0x80 + (i % 64)]))).sort(compareNames)
  const builder = new DirTreeBuilder(m.put, shape)
  for (const n of names) await builder.add(file(n))
  const { cid } = await builder.finish()
  const root = decodeNode(cid, m.blocks.get(cid.toString())!)
  assert.ok('parts' in root && root.parts.every(p => p[2] instanceof Uint8Array))
  for (const i of [0, 150, 299]) assert.ok(await lookupEntry(m.get, cid, names[i]) !== undefined)
})

test('version 2 entries: special files, hard links, ctime and extended attributes decode; malformed ones are refused', () => {
  const base = { mode: 0o644, mtime: [1, 0], ctime: [2, 5], size: 0 }
  const good = cborBlock({
    type: 'dir',
    entries: [
      { name: 'block', type: 'block', ...base, rdev: [8, 1] },
      { name: 'char', type: 'char', ...base, rdev: [1, 3] },
      { name: 'fifo', type: 'fifo', ...base },
      { name: 'linked', type: 'file', ...base, size: 1, cid: rawCid(Buffer.from('x')), hardlink: 1, xattrs: [['system.posix_acl_access', new Uint8Array([2, 0, 0, 0])], ['user.a', new Uint8Array([1])]] },
      { name: nameOf(bytes('t', [0xff])), type: 'symlink', ...base, size: 2, target: nameOf(bytes([0xfe, 0xff])) }
    ]
  })
  const node = decodeNode(good.cid, good.bytes) as DirLeaf
  assert.deepEqual(node.entries.map(e => e.type), ['block', 'char', 'fifo', 'file', 'symlink'])
  assert.ok(node.entries[4].target instanceof Uint8Array)
  const reject = (entry: object, why: RegExp) => {
    const block = cborBlock({ type: 'dir', entries: [entry] })
    assert.throws(() => decodeNode(block.cid, block.bytes), (err: any) => err instanceof MalformedError && why.test(err.message), why.source)
  }
  reject({ name: 'c', type: 'char', ...base }, /a device needs rdev/)
  reject({ name: 'f', type: 'fifo', ...base, rdev: [1, 1] }, /only a device has rdev/)
  reject({ name: 'f', type: 'fifo', ...base, size: 3 }, /a fifo has size 0/)
  reject({ name: 'f', type: 'fifo', ...base, cid: rawCid(Buffer.from('x')) }, /no CID/)
  reject({ name: 'd', type: 'dir', ...base, cid: cborBlock({ type: 'dir', entries: [] }).cid, hardlink: 2 }, /only a file has a hardlink id/)
  reject({ name: 'x', type: 'fifo', ...base, ctime: [1, 1e9] }, /ctime/)
  reject({ name: 'x', type: 'fifo', ...base, xattrs: [] }, /xattrs is not a non-empty list/)
  reject({ name: 'x', type: 'fifo', ...base, xattrs: [['user.b', new Uint8Array()], ['user.a', new Uint8Array()]] }, /xattr 1 is not sorted/)
  reject({ name: 'x', type: 'fifo', ...base, xattrs: [['user.a', 'text']] }, /xattr 0 is not \[name, bytes\]/)
  reject({ name: new Uint8Array(bytes('abc')), type: 'fifo', ...base }, /unsafe or invalid name/)
  reject({ name: 'x'.repeat(256), type: 'fifo', ...base }, /unsafe or invalid name/)
  reject({ name: 's', type: 'symlink', ...base, size: 1, target: new Uint8Array(bytes('a')) }, /a symlink needs a target/)
  reject({ name: 'sock', type: 'socket', ...base }, /unknown type "socket"/)
})

test('childPath joins a directory and a name as bytes, neither of them UTF-8 or not', { timeout: 5_000 }, () => {
  const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9]) // "café" in Latin-1: not UTF-8
  assert.deepEqual(childPath(Buffer.from('/srv/d\xe9j\xe0', 'latin1'), nameOf(latin1)), Buffer.concat([Buffer.from('/srv/d\xe9j\xe0/', 'latin1'), latin1]))
  assert.deepEqual(childPath(Buffer.from('/srv'), 'été'), Buffer.from('/srv/été'))
})
