import type { CID } from 'multiformats/cid'
import { readAhead } from '../common/concurrency.ts'
import { CorruptBlockError, MissingBlockError } from '../errors.ts'
import { cidKey, isRaw } from './blocks.ts'
import { decodeNode, nodeLinks } from './nodes.ts'
import type { SignedPoint } from './api.ts'
import type { BlockStore } from '../store/api.ts'

/**
 * What a closure walk reads: a block store, or a view of one (a tenant's blocks on a target, see
 * tenants/blocks.ts).
 */
export type BlockSource = Pick<BlockStore, 'get' | 'hasMany'>

/** Nodes read ahead while walking a level (the store decompresses on the thread pool). */
const FETCH_CONCURRENCY = 16
/** Raw leaves per `hasMany` call. */
const HAS_BATCH = 4096
/**
 * Raw chunks remembered to avoid yielding a repeated chunk twice (zeroed regions of an image
 * repeat one chunk thousands of times). Bounded so that walking a 1 TiB point (16 million chunks)
 * does not hold them all: past the window a far repeat may be yielded again, which costs a
 * receiver one more "have?" answer, never correctness.
 */
const RAW_DEDUP_WINDOW = 1 << 20

/**
 * Every block of a point's closure: the manifest block, then the volume trees breadth first (a
 * node before its children). The parent point is not part of the closure. Throws
 * `MissingBlockError` when a node is absent (its children cannot be known).
 */
export function walkClosure (store: BlockStore, point: SignedPoint): AsyncGenerator<CID> {
  return diffClosure(store, point, null)
}

/**
 * The blocks of `point`'s closure that `old`'s closure does not share: a Merkle diff that
 * descends only where CIDs differ, level by level on both sides, so its cost follows the size of
 * the change, not of the point. This is the delta replication sends against a cursor and seed
 * mode sends against the parent.
 *
 * The old side is expanded only along changed paths, so a block that `old` holds elsewhere (a
 * file copied into a new directory, a subtree moved deeper) may still be yielded: the result is
 * always a superset of the true difference, and receivers answer "have?" for it anyway. Missing
 * old nodes are skipped; a missing new node throws `MissingBlockError` (or `CorruptBlockError`
 * when its copy here is damaged), unless `onAbsent` is given: then it is reported there, and
 * neither it nor its subtree is yielded.
 */
export async function * diffClosure (store: BlockStore, point: SignedPoint, old: SignedPoint | null, options: { onAbsent?: (cid: CID) => void } = {}): AsyncGenerator<CID> {
  const { onAbsent } = options
  if (old != null && old.id.equals(point.id)) return
  yield point.id
  const oldKnown = new Set<string>()
  const yielded = new Set<string>()
  let seenRaw = new Set<string>()
  let newLevel: CID[] = Object.values(point.manifest.volumes).map(v => v.root)
  let oldLevel: CID[] = old == null ? [] : Object.values(old.manifest.volumes).map(v => v.root)
  for (const cid of oldLevel) oldKnown.add(cidKey(cid))

  while (newLevel.length > 0) {
    const newKeys = new Set(newLevel.map(cidKey))
    const oldExpand = oldLevel.filter(cid => !isRaw(cid) && !newKeys.has(cidKey(cid)))
    const oldNext: CID[] = []
    for await (const { links } of fetchNodes(store, oldExpand, true)) {
      for (const child of links) {
        const key = cidKey(child)
        if (oldKnown.has(key)) continue
        oldKnown.add(key)
        if (!isRaw(child)) oldNext.push(child)
      }
    }
    oldLevel = oldNext

    const changed: CID[] = []
    for (const cid of newLevel) {
      const key = cidKey(cid)
      if (oldKnown.has(key) || yielded.has(key) || seenRaw.has(key)) continue
      if (isRaw(cid)) {
        seenRaw.add(key)
        yield cid
        continue
      }
      yielded.add(key)
      changed.push(cid)
    }
    const newNext: CID[] = []
    for await (const { cid, links, absent } of fetchNodes(store, changed, onAbsent !== undefined)) {
      if (absent) {
        onAbsent!(cid)
        continue
      }
      yield cid
      for (const child of links) {
        if (!isRaw(child)) {
          newNext.push(child)
          continue
        }
        const key = cidKey(child)
        if (oldKnown.has(key) || seenRaw.has(key)) continue
        if (seenRaw.size >= RAW_DEDUP_WINDOW) seenRaw = new Set()
        seenRaw.add(key)
        yield child
      }
    }
    newLevel = newNext
  }
}

/** What `missingBlocks` found. */
export interface MissingReport {
  /** missing blocks found; a missing node hides its subtree and counts once */
  count: number
  /** how many of them are nodes: when not 0, `count` is a lower bound */
  nodes: number
  /** the first missing CIDs (at most `limit`) */
  cids: CID[]
  /** missing blocks per volume name */
  byVolume: Record<string, number>
}

/**
 * Checks which blocks of a point's closure are absent: nodes are read (and verified) level by
 * level, raw leaves are asked in `hasMany` batches of thousands, so a point of millions of chunks
 * costs a few hundred index round trips. The manifest itself is not checked (the caller has it).
 */
export async function missingBlocks (store: BlockSource, point: SignedPoint, options: { limit?: number } = {}): Promise<MissingReport> {
  const report: MissingReport = { count: 0, nodes: 0, cids: [], byVolume: {} }
  const limit = options.limit ?? 1000
  for (const [name, volume] of Object.entries(point.manifest.volumes)) {
    const before = report.count
    await countMissing(store, [volume.root], (cid) => {
      report.count++
      if (!isRaw(cid)) report.nodes++
      if (report.cids.length < limit) report.cids.push(cid)
    })
    if (report.count > before) report.byVolume[name] = report.count - before
  }
  return report
}

/**
 * Calls `onMissing` for every absent block under `roots`; returns how many there were. A chunk
 * repeated beyond the dedup window may be counted twice: exact for completeness, close for counts.
 */
export async function countMissing (store: BlockSource, roots: CID[], onMissing: (cid: CID) => void = () => {}): Promise<number> {
  let missing = 0
  const seenNodes = new Set<string>()
  let seenRaw = new Set<string>()
  let rawBatch: CID[] = []
  const flushRaw = async (): Promise<void> => {
    const batch = rawBatch
    rawBatch = []
    const present = await store.hasMany(batch)
    for (let i = 0; i < batch.length; i++) {
      if (!present[i]) {
        missing++
        onMissing(batch[i])
      }
    }
  }
  let level: CID[] = []
  const visit = async (cid: CID): Promise<void> => {
    const key = cidKey(cid)
    if (!isRaw(cid)) {
      if (seenNodes.has(key)) return
      seenNodes.add(key)
      level.push(cid)
      return
    }
    if (seenRaw.has(key)) return
    if (seenRaw.size >= RAW_DEDUP_WINDOW) seenRaw = new Set()
    seenRaw.add(key)
    rawBatch.push(cid)
    if (rawBatch.length >= HAS_BATCH) await flushRaw()
  }
  for (const root of roots) await visit(root)
  while (level.length > 0) {
    const nodes = level
    level = []
    for await (const { cid, links, absent } of fetchNodes(store, nodes, true)) {
      if (absent) {
        missing++
        onMissing(cid)
        continue
      }
      for (const child of links) await visit(child)
    }
  }
  if (rawBatch.length > 0) await flushRaw()
  return missing
}

interface Fetched {
  cid: CID
  links: CID[]
  absent: boolean
}

/**
 * Reads and decodes nodes with bounded concurrency, in order. With `tolerateMissing`, an absent
 * node is reported as `absent` instead of thrown; so is one whose stored copy is damaged (the
 * store has taken it out of its index, see `BlockStore.quarantine`: it is absent from now on).
 */
function fetchNodes (store: BlockSource, cids: CID[], tolerateMissing: boolean): AsyncGenerator<Fetched> {
  return readAhead(cids, FETCH_CONCURRENCY, async (cid): Promise<Fetched> => {
    try {
      return { cid, links: nodeLinks(decodeNode(cid, await store.get(cid))), absent: false }
    } catch (err) {
      if (tolerateMissing && (err instanceof MissingBlockError || err instanceof CorruptBlockError)) return { cid, links: [], absent: true }
      throw err
    }
  })
}
