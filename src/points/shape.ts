import { MAX_NODE_SIZE } from './constants.ts'

/**
 * How many links a node holds. Groups are content-defined: a group closes after a link whose
 * boundary key has its low `log2(avg)` bits zero (once the group holds `min` links), or when it
 * reaches `max` links or the node byte budget. Because boundaries depend on the links themselves
 * and not on their positions, inserting or removing a chunk (or a directory entry) rewrites only
 * the node around it instead of every node after it: the same reason content-defined chunking
 * beats fixed-size blocks, one level up.
 */
export interface Fanout {
  min: number
  /** a power of two */
  avg: number
  max: number
}

export interface TreeShape {
  /** links per file node (chunks at the bottom, file nodes above) */
  file: Fanout
  /** entries per directory leaf, and parts per directory index node */
  dir: Fanout
  /** no node's encoding exceeds this, whatever the fanout says */
  maxNodeBytes: number
}

/**
 * A file part costs about 47 bytes encoded, so 4096 of them stay under 200 KiB; the mean of 1024
 * keeps the nodes an edit rewrites near 48 KiB. A 1 TiB image of 64 KiB chunks takes about 16 000
 * leaf nodes and 16 nodes above them.
 */
export const DEFAULT_SHAPE: Readonly<TreeShape> = Object.freeze({
  file: Object.freeze({ min: 256, avg: 1024, max: 4096 }),
  dir: Object.freeze({ min: 64, avg: 256, max: 2048 }),
  maxNodeBytes: MAX_NODE_SIZE
})

export function validateShape (shape: TreeShape): void {
  for (const [name, f] of Object.entries({ file: shape.file, dir: shape.dir })) {
    if (!(Number.isInteger(f.min) && f.min >= 2 && f.min <= f.avg && f.avg < f.max) || (f.avg & (f.avg - 1)) !== 0) {
      throw new RangeError(`tree shape ${name} fanout must satisfy 2 <= min <= avg < max with avg a power of two`)
    }
  }
  if (!(shape.maxNodeBytes >= 4096 && shape.maxNodeBytes <= MAX_NODE_SIZE * 2)) {
    throw new RangeError('tree shape maxNodeBytes must be between 4 KiB and 512 KiB')
  }
}

/**
 * A streaming builder of a balanced tree with content-defined node boundaries. Links are added
 * in order at level 0; full groups become nodes (`makeNode`) whose links go one level up. Every
 * group holds at least `min >= 2` links except the last of a level, so each level shrinks and
 * `finish` terminates.
 */
export class SplitTree<L> {
  readonly #fanout: Fanout
  readonly #maxBytes: number
  readonly #makeNode: (level: number, links: L[]) => Promise<L>
  readonly #boundaryKey: (link: L, level: number) => number
  readonly #encodedSize: (link: L, level: number) => number
  readonly #levels: Array<{ links: L[], bytes: number }> = []

  constructor (options: {
    fanout: Fanout
    maxNodeBytes: number
    makeNode: (level: number, links: L[]) => Promise<L>
    boundaryKey: (link: L, level: number) => number
    encodedSize: (link: L, level: number) => number
  }) {
    this.#fanout = options.fanout
    this.#maxBytes = options.maxNodeBytes - 64
    this.#makeNode = options.makeNode
    this.#boundaryKey = options.boundaryKey
    this.#encodedSize = options.encodedSize
  }

  async add (link: L): Promise<void> {
    await this.#push(0, link)
  }

  /**
   * Closes every open group. Returns the root link: the only link of the top level, or, when
   * level 0 received a single link and `keepSingleLeaf` is set, that link itself (a file of one
   * chunk is its chunk). Returns undefined when nothing was added.
   */
  async finish (keepSingleLeaf: boolean): Promise<L | undefined> {
    for (let level = 0; level < this.#levels.length; level++) {
      const group = this.#levels[level]
      const isTop = level === this.#levels.length - 1
      if (isTop) {
        if (group.links.length === 0) return undefined
        if (group.links.length === 1 && (level > 0 || keepSingleLeaf)) return group.links[0]
      }
      if (group.links.length > 0) await this.#close(level)
    }
    return undefined
  }

  async #push (level: number, link: L): Promise<void> {
    const group = this.#levels[level] ??= { links: [], bytes: 0 }
    const size = this.#encodedSize(link, level)
    if (group.links.length > 0 && group.bytes + size > this.#maxBytes) await this.#close(level)
    group.links.push(link)
    group.bytes += size
    const n = group.links.length
    if (n >= this.#fanout.max || (n >= this.#fanout.min && (this.#boundaryKey(link, level) & (this.#fanout.avg - 1)) === 0)) {
      await this.#close(level)
    }
  }

  async #close (level: number): Promise<void> {
    const group = this.#levels[level]
    const links = group.links
    group.links = []
    group.bytes = 0
    await this.#push(level + 1, await this.#makeNode(level, links))
  }
}
