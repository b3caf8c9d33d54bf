import type { CID } from 'multiformats/cid'
import { MalformedError } from '../errors.ts'
import { decodeCbor, isDrcoreCid, isRaw, DAG_CBOR_CODE } from './blocks.ts'
import { compareNames, isCanonicalName, isSafeName, nameBytes, nameLength, showName } from './names.ts'
import type { Name } from './names.ts'

export { compareNames, isSafeName } from './names.ts'
export type { Name } from './names.ts'

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

export type EntryType = 'file' | 'dir' | 'symlink' | 'fifo' | 'char' | 'block'

/** An extended attribute: its name and its value's bytes. */
export type Xattr = [Name, Uint8Array]

/** One name in a directory (docs/formats.md, "Directories": the v2 entry table). */
export interface Entry {
  /** one path component: a string when its bytes are valid UTF-8, else the bytes (names.ts) */
  name: Name
  type: EntryType
  /** permission bits (`mode & 0o7777`) */
  mode: number
  /** modification time as [seconds, nanoseconds] since the epoch */
  mtime: [number, number]
  /** file: content bytes; dir: content bytes of every file below it; symlink: target length; special files: 0 */
  size: number
  /** file: content root; dir: directory node */
  cid?: CID
  /** symlink only: the target's bytes, as a name is kept */
  target?: Name
  /** inode number at backup time: part of the unchanged-file check */
  ino?: number
  /** numeric owner and group (restored when the restore runs as root) */
  uid?: number
  gid?: number
  /** v2: inode change time, [seconds, nanoseconds]: part of the unchanged-file check */
  ctime?: [number, number]
  /** v2, char and block devices: [major, minor] */
  rdev?: [number, number]
  /**
   * v2, files with more than one link: an id shared by every entry of the volume that is the
   * same inode (assigned in walk order), so a restore links them together again
   */
  hardlink?: number
  /** v2: extended attributes (POSIX ACLs included), sorted by name; absent when there are none */
  xattrs?: Xattr[]
}

export interface DirLeaf {
  type: 'dir'
  /** sorted by the bytes of their names, names unique */
  entries: Entry[]
}

/** `[child dir node, entries under it, name of its first entry]` */
export type DirPart = [CID, number, Name]

export interface DirIndex {
  type: 'dir'
  /** number of entries under this node */
  count: number
  parts: DirPart[]
}

export type DirNode = DirLeaf | DirIndex
export type TreeNode = FileNode | DirNode

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

export type Fail = (why: string) => never

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
  let previous: Name | undefined
  for (const [i, entry] of value.entries.entries()) {
    validateEntry(entry, (why) => fail(`entry ${i}: ${why}`))
    if (previous !== undefined && compareNames(previous, entry.name) >= 0) {
      fail(`entry ${i} (${JSON.stringify(showName(entry.name))}) is not sorted after ${JSON.stringify(showName(previous))}`)
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
  let previous: Name | undefined
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

const ENTRY_KEYS = new Set(['name', 'type', 'mode', 'mtime', 'size', 'cid', 'target', 'ino', 'uid', 'gid', 'ctime', 'rdev', 'hardlink', 'xattrs'])

/** PATH_MAX: the longest symlink target Linux stores */
const TARGET_MAX = 4096
/** XATTR_SIZE_MAX: the largest value of one extended attribute */
const XATTR_VALUE_MAX = 64 * 1024

function validateEntry (entry: any, fail: Fail): asserts entry is Entry {
  if (!isRecord(entry)) fail('not a map')
  for (const key of Object.keys(entry)) if (!ENTRY_KEYS.has(key)) fail(`unexpected field ${JSON.stringify(key)}`)
  if (!isSafeName(entry.name)) fail(`unsafe or invalid name ${JSON.stringify(isCanonicalName(entry.name) ? showName(entry.name) : String(entry.name))}`)
  if (!isSize(entry.mode) || entry.mode > 0o7777) fail('mode is not permission bits')
  if (!isMtime(entry.mtime)) fail('mtime is not [seconds, nanoseconds]')
  if (!isSize(entry.size)) fail('size is not a non-negative integer')
  for (const key of ['ino', 'uid', 'gid', 'hardlink']) {
    if (entry[key] !== undefined && !isSize(entry[key])) fail(`${key} is not a non-negative integer`)
  }
  if (entry.ctime !== undefined && !isMtime(entry.ctime)) fail('ctime is not [seconds, nanoseconds]')
  if (entry.xattrs !== undefined) validateXattrs(entry.xattrs, fail)
  if (entry.hardlink !== undefined && entry.type !== 'file') fail('only a file has a hardlink id')
  const device = entry.type === 'char' || entry.type === 'block'
  if (device) {
    if (!Array.isArray(entry.rdev) || entry.rdev.length !== 2 || !isSize(entry.rdev[0]) || !isSize(entry.rdev[1])) fail('a device needs rdev [major, minor]')
  } else if (entry.rdev !== undefined) {
    fail('only a device has rdev')
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
      if (!isCanonicalName(entry.target) || nameLength(entry.target) === 0 || nameLength(entry.target) > TARGET_MAX ||
        nameBytes(entry.target).includes(0)) fail('a symlink needs a target')
      if (entry.cid !== undefined) fail('a symlink has no CID')
      break
    case 'fifo':
    case 'char':
    case 'block':
      if (entry.cid !== undefined || entry.target !== undefined) fail(`a ${entry.type as string} has no CID and no target`)
      if (entry.size !== 0) fail(`a ${entry.type as string} has size 0`)
      break
    default:
      fail(`unknown type ${JSON.stringify(entry.type)}`)
  }
}

/** Extended attributes: a non-empty list of [name, bytes], sorted strictly by name. */
export function validateXattrs (xattrs: unknown, fail: Fail): asserts xattrs is Xattr[] {
  if (!Array.isArray(xattrs) || xattrs.length === 0) fail('xattrs is not a non-empty list (omit it when there are none)')
  let previous: Name | undefined
  for (const [i, x] of (xattrs as unknown[]).entries()) {
    if (!Array.isArray(x) || x.length !== 2 || !isCanonicalName(x[0]) || !(x[1] instanceof Uint8Array)) fail(`xattr ${i} is not [name, bytes]`)
    const [name, value] = x as Xattr
    const bytes = nameBytes(name)
    if (bytes.length === 0 || bytes.length > 255 || bytes.includes(0)) fail(`xattr ${i} has an invalid name`)
    if (value.length > XATTR_VALUE_MAX) fail(`xattr ${i} is larger than 64 KiB`)
    if (previous !== undefined && compareNames(previous, name) >= 0) fail(`xattr ${i} is not sorted after the one before`)
    previous = name
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
