import type { CID } from 'multiformats/cid'
import { MalformedError } from '../errors.ts'
import { cborBlock, isRaw, rawCid } from './blocks.ts'
import { decodeFileNode } from './nodes.ts'
import type { FileNode, FilePart } from './nodes.ts'
import { SplitTree } from './shape.ts'
import type { TreeShape } from './shape.ts'

/** Where a builder puts the blocks it makes (a `BlockWriter`'s `put`). */
export type PutBlock = (cid: CID, bytes: Uint8Array) => Promise<unknown>
/** Where a reader gets blocks (a `BlockStore`'s `get`, which verifies them). */
export type GetBlock = (cid: CID) => Promise<Uint8Array>

const EMPTY = new Uint8Array(0)

/**
 * Builds a file's content root from its chunks, in order. The chunks themselves are put by the
 * caller; this puts the file nodes.
 */
export class FileTreeBuilder {
  readonly #tree: SplitTree<FilePart>
  readonly #put: PutBlock

  constructor (put: PutBlock, shape: TreeShape) {
    this.#put = put
    this.#tree = new SplitTree<FilePart>({
      fanout: shape.file,
      maxNodeBytes: shape.maxNodeBytes,
      makeNode: async (_level, parts) => {
        let size = 0
        for (const part of parts) size += part[1]
        const node: FileNode = { type: 'file', size, parts }
        const block = cborBlock(node)
        await put(block.cid, block.bytes)
        return [block.cid, size]
      },
      boundaryKey: (part) => boundaryKey(part[0]),
      // CID (41) + array header (1) + size (up to 9)
      encodedSize: () => 51
    })
  }

  addChunk (cid: CID, size: number): Promise<void> {
    return this.#tree.add([cid, size])
  }

  /** The content root: the single chunk of a one-chunk file, else the top file node. */
  async finish (): Promise<{ cid: CID, size: number }> {
    const root = await this.#tree.finish(true)
    if (root === undefined) {
      const cid = rawCid(EMPTY)
      await this.#put(cid, EMPTY)
      return { cid, size: 0 }
    }
    return { cid: root[0], size: root[1] }
  }
}

/** The low 32 bits of a CID's digest: uniformly distributed, and a property of the content. */
export function boundaryKey (cid: CID): number {
  const d = cid.multihash.digest
  return (d[d.length - 4] | (d[d.length - 3] << 8) | (d[d.length - 2] << 16) | (d[d.length - 1] << 24)) >>> 0
}

/**
 * Yields the chunks of a file's content in order, with their declared sizes, reading file nodes
 * depth first. Node sizes are checked against their parents, so a consumer that checks each
 * chunk's length against its declared size has checked the whole file.
 */
export async function * fileChunks (get: GetBlock, root: CID, size?: number): AsyncGenerator<FilePart> {
  if (isRaw(root)) {
    yield [root, size ?? -1]
    return
  }
  const node = decodeFileNode(root, await get(root))
  if (size !== undefined && node.size !== size) {
    throw new MalformedError(`node ${root} is malformed: it holds ${node.size} bytes where its parent declares ${size}`)
  }
  for (const part of node.parts) {
    yield * fileChunks(get, part[0], part[1])
  }
}
