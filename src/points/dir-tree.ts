import type { CID } from 'multiformats/cid'
import { cborBlock, sha256 } from './blocks.ts'
import { decodeDirNode } from './nodes.ts'
import { compareNames, nameBytes, nameLength, sameName } from './names.ts'
import type { Name } from './names.ts'
import type { DirIndex, DirLeaf, DirPart, Entry } from './nodes.ts'
import { SplitTree } from './shape.ts'
import type { TreeShape } from './shape.ts'
import { boundaryKey } from './file-tree.ts'
import type { GetBlock, PutBlock } from './file-tree.ts'

type Link = Entry | DirPart

/**
 * Builds a directory node from its entries, which must be added sorted by `compareNames`.
 * Leaf boundaries are keyed on the entry name, so a changed file rewrites only its own leaf and
 * an added name at most two.
 */
export class DirTreeBuilder {
  readonly #tree: SplitTree<Link>
  readonly #put: PutBlock

  constructor (put: PutBlock, shape: TreeShape) {
    this.#put = put
    this.#tree = new SplitTree<Link>({
      fanout: shape.dir,
      maxNodeBytes: shape.maxNodeBytes,
      makeNode: async (level, links) => {
        let node: DirLeaf | DirIndex
        let count: number
        if (level === 0) {
          node = { type: 'dir', entries: links as Entry[] }
          count = links.length
        } else {
          const parts = links as DirPart[]
          count = 0
          for (const part of parts) count += part[1]
          node = { type: 'dir', count, parts }
        }
        const block = cborBlock(node)
        await put(block.cid, block.bytes)
        return [block.cid, count, firstName(links[0])]
      },
      boundaryKey: (link, level) => level === 0 ? nameKey((link as Entry).name) : boundaryKey((link as DirPart)[0]),
      encodedSize: (link, level) => level === 0 ? entrySizeBound(link as Entry) : 56 + nameLength((link as DirPart)[2])
    })
  }

  add (entry: Entry): Promise<void> {
    return this.#tree.add(entry)
  }

  /** The directory's root node (an empty directory is an empty leaf). */
  async finish (): Promise<{ cid: CID, count: number }> {
    const root = await this.#tree.finish(false) as DirPart | undefined
    if (root !== undefined) return { cid: root[0], count: root[1] }
    const empty = cborBlock({ type: 'dir', entries: [] })
    await this.#put(empty.cid, empty.bytes)
    return { cid: empty.cid, count: 0 }
  }
}

/**
 * An upper bound of an entry's dag-cbor size without encoding it: field names and the largest
 * encodings of the numbers (about 230 bytes with the CID), plus the name, the target and the
 * extended attributes.
 */
function entrySizeBound (entry: Entry): number {
  let size = 240 + nameLength(entry.name) + (entry.target === undefined ? 0 : nameLength(entry.target))
  for (const [name, value] of entry.xattrs ?? []) size += 16 + nameLength(name) + value.length
  return size
}

function firstName (link: Link): Name {
  return Array.isArray(link) ? link[2] : link.name
}

/** The boundary key of a directory entry: sha2-256 of the name's bytes (UTF-8 for a text name, as in version 1). */
function nameKey (name: Name): number {
  const d = sha256(nameBytes(name))
  return (d[0] | (d[1] << 8) | (d[2] << 16) | (d[3] << 24)) >>> 0
}

/** Yields a directory's entries in name order, reading index nodes depth first. */
export async function * dirEntries (get: GetBlock, root: CID): AsyncGenerator<Entry> {
  const node = decodeDirNode(root, await get(root))
  if ('entries' in node) {
    yield * node.entries
    return
  }
  for (const part of node.parts) yield * dirEntries(get, part[0])
}

/** Finds one name in a directory, following only the index parts whose range can hold it. */
export async function lookupEntry (get: GetBlock, root: CID, name: Name): Promise<Entry | undefined> {
  const node = decodeDirNode(root, await get(root))
  if ('entries' in node) return node.entries.find(e => sameName(e.name, name))
  let candidate: DirPart | undefined
  for (const part of node.parts) {
    if (compareNames(part[2], name) > 0) break
    candidate = part
  }
  return candidate === undefined ? undefined : await lookupEntry(get, candidate[0], name)
}
