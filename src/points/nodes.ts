import type { CID } from 'multiformats/cid'
import { MalformedError } from '../errors.ts'
import { decodeCbor, isDrcoreCid, isRaw, DAG_CBOR_CODE } from './blocks.ts'

/**
 * The dag-cbor nodes of a volume tree (docs/formats.md, "Nodes").
 *
 * File content is a raw chunk when the file is one chunk (the empty file included), otherwise a
 * tree of `FileNode`s whose leaves are raw chunks. Directories are a `DirLeaf` or, when large, a
 * tree of `DirIndex` nodes over `DirLeaf`s. Node boundaries are content-defined (see shape.ts),
 * so an edit rewrites only the nodes on its path.
 */

/** `[child, bytes of file content under it]`; a raw child is a chunk, a dag-cbor child a FileNode */
export type FilePart = [CID, number]

export interface FileNode {
  type: 'file'
  /** bytes of file content under this node: the sum of the parts' sizes */
  size: number
  parts: FilePart[]
}

export type EntryType = 'file' | 'dir' | 'symlink'

/** One name in a directory. */
export interface Entry {
  name: string
  type: EntryType
  /** permission bits (`mode & 0o7777`) */
  mode: number
  /** modification time as [seconds, nanoseconds] since the epoch */
  mtime: [number, number]
  /** file: content bytes; dir: content bytes of every file below it; symlink: target length */
  size: number
  /** file: content root; dir: directory node */
  cid?: CID
  /** symlink only */
  target?: string
  /** inode number at backup time: part of the unchanged-file check (size, mtime, inode) */
  ino?: number
  /** numeric owner and group (restored when the restore runs as root) */
  uid?: number
  gid?: number
}

export interface DirLeaf {
  type: 'dir'
  /** sorted by the UTF-8 bytes of their names, names unique */
  entries: Entry[]
}

/** `[child dir node, entries under it, name of its first entry]` */
export type DirPart = [CID, number, string]

export interface DirIndex {
  type: 'dir'
  /** number of entries under this node */
  count: number
  parts: DirPart[]
}

export type DirNode = DirLeaf | DirIndex
export type TreeNode = FileNode | DirNode

/** Compares names by their UTF-8 bytes (code point order), the order of directory entries. */
export function compareNames (a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/** A name that is safe to create under a restore directory. */
export function isSafeName (name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && name !== '.' && name !== '..' &&
    !name.includes('/') && !name.includes('\0') && Buffer.byteLength(name) <= 4096
}

/** Decodes and validates a node block; `MalformedError` names the CID on any deviation. */
export function decodeNode (cid: CID, bytes: Uint8Array): TreeNode {
  const value = decodeCbor(bytes, `node ${cid}`)
  const fail = (why: string): never => { throw new MalformedError(`node ${cid} is malformed: ${why}`) }
  if (!isRecord(value)) return fail('not a map')
  if (value.type === 'file') return validateFileNode(value, fail)
  if (value.type === 'dir') return 'entries' in value ? validateDirLeaf(value, fail) : validateDirIndex(value, fail)
  return fail(`unknown node type ${JSON.stringify(value.type)}`)
}

export function decodeFileNode (cid: CID, bytes: Uint8Array): FileNode {
  const node = decodeNode(cid, bytes)
  if (node.type !== 'file') throw new MalformedError(`node ${cid} is malformed: expected a file node, found a ${node.type} node`)
  return node
}

export function decodeDirNode (cid: CID, bytes: Uint8Array): DirNode {
  const node = decodeNode(cid, bytes)
  if (node.type !== 'dir') throw new MalformedError(`node ${cid} is malformed: expected a directory node, found a ${node.type} node`)
  return node
}

/** The blocks a node links to, in order. */
export function nodeLinks (node: TreeNode): CID[] {
  if (node.type === 'file') return node.parts.map(p => p[0])
  if ('entries' in node) {
    const links: CID[] = []
    for (const e of node.entries) if (e.cid != null) links.push(e.cid)
    return links
  }
  return node.parts.map(p => p[0])
}

type Fail = (why: string) => never

function validateFileNode (value: Record<string, unknown>, fail: Fail): FileNode {
  exactKeys(value, ['type', 'size', 'parts'], fail)
  if (!isSize(value.size)) fail('size is not a non-negative integer')
  if (!Array.isArray(value.parts) || value.parts.length === 0) return fail('parts is not a non-empty array')
  let sum = 0
  for (const [i, part] of value.parts.entries()) {
    if (!Array.isArray(part) || part.length !== 2 || !isDrcoreCid(part[0]) || !isSize(part[1])) {
      fail(`part ${i} is not [CID, size]`)
    }
    if (isRaw(part[0]) && part[1] > 1024 * 1024) fail(`part ${i} is a chunk larger than the block limit`)
    sum += part[1]
  }
  if (sum !== value.size) fail(`size ${value.size as number} is not the sum of its parts (${sum})`)
  return value as unknown as FileNode
}

function validateDirLeaf (value: Record<string, unknown>, fail: Fail): DirLeaf {
  exactKeys(value, ['type', 'entries'], fail)
  if (!Array.isArray(value.entries)) return fail('entries is not an array')
  let previous: string | undefined
  for (const [i, entry] of value.entries.entries()) {
    validateEntry(entry, (why) => fail(`entry ${i}: ${why}`))
    if (previous !== undefined && compareNames(previous, entry.name) >= 0) {
      fail(`entry ${i} (${JSON.stringify(entry.name)}) is not sorted after ${JSON.stringify(previous)}`)
    }
    previous = entry.name
  }
  return value as unknown as DirLeaf
}

function validateDirIndex (value: Record<string, unknown>, fail: Fail): DirIndex {
  exactKeys(value, ['type', 'count', 'parts'], fail)
  if (!isSize(value.count)) fail('count is not a non-negative integer')
  if (!Array.isArray(value.parts) || value.parts.length === 0) return fail('parts is not a non-empty array')
  let sum = 0
  let previous: string | undefined
  for (const [i, part] of value.parts.entries()) {
    if (!Array.isArray(part) || part.length !== 3 || !isDrcoreCid(part[0]) || part[0].code !== DAG_CBOR_CODE ||
      !isSize(part[1]) || !isSafeName(part[2])) {
      fail(`part ${i} is not [dag-cbor CID, count, first name]`)
    }
    if (previous !== undefined && compareNames(previous, part[2]) >= 0) fail(`part ${i} is not sorted by first name`)
    previous = part[2]
    sum += part[1]
  }
  if (sum !== value.count) fail(`count ${value.count as number} is not the sum of its parts (${sum})`)
  return value as unknown as DirIndex
}

const ENTRY_KEYS = new Set(['name', 'type', 'mode', 'mtime', 'size', 'cid', 'target', 'ino', 'uid', 'gid'])

function validateEntry (entry: any, fail: Fail): asserts entry is Entry {
  if (!isRecord(entry)) fail('not a map')
  for (const key of Object.keys(entry)) if (!ENTRY_KEYS.has(key)) fail(`unexpected field ${JSON.stringify(key)}`)
  if (!isSafeName(entry.name)) fail(`unsafe or invalid name ${JSON.stringify(entry.name)}`)
  if (!isSize(entry.mode) || entry.mode > 0o7777) fail('mode is not permission bits')
  if (!isMtime(entry.mtime)) fail('mtime is not [seconds, nanoseconds]')
  if (!isSize(entry.size)) fail('size is not a non-negative integer')
  for (const key of ['ino', 'uid', 'gid']) {
    if (entry[key] !== undefined && !isSize(entry[key])) fail(`${key} is not a non-negative integer`)
  }
  switch (entry.type) {
    case 'file':
      if (!isDrcoreCid(entry.cid)) fail('a file needs a content CID')
      if (entry.target !== undefined) fail('a file has no target')
      break
    case 'dir':
      if (!isDrcoreCid(entry.cid) || entry.cid.code !== DAG_CBOR_CODE) fail('a directory needs a dag-cbor CID')
      if (entry.target !== undefined) fail('a directory has no target')
      break
    case 'symlink':
      if (typeof entry.target !== 'string' || entry.target.length === 0 || entry.target.includes('\0')) fail('a symlink needs a target')
      if (entry.cid !== undefined) fail('a symlink has no CID')
      break
    default:
      fail(`unknown type ${JSON.stringify(entry.type)}`)
  }
}

export function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array) &&
    Object.getPrototypeOf(value) === Object.prototype
}

export function isSize (value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0
}

export function isMtime (value: unknown): value is [number, number] {
  return Array.isArray(value) && value.length === 2 && Number.isSafeInteger(value[0]) &&
    Number.isInteger(value[1]) && value[1] >= 0 && value[1] < 1e9
}

function exactKeys (value: Record<string, unknown>, keys: string[], fail: Fail): void {
  const actual = Object.keys(value)
  if (actual.length !== keys.length || !keys.every(k => k in value)) {
    fail(`expected fields ${keys.join(', ')}, found ${actual.join(', ')}`)
  }
}
