import type { CID } from 'multiformats/cid'
import { readAhead } from '../common/concurrency.ts'
import { CorruptBlockError, MalformedError, MissingBlockError } from '../errors.ts'
import { AmbiguousNameError } from '../points/errors.ts'
import { cidKey, isRaw } from '../points/blocks.ts'
import { loadManifest } from '../points/manifest.ts'
import { decodeNode, nodeLinks } from '../points/nodes.ts'
import type { SignedPoint } from '../points/api.ts'
import type { PointIndex } from '../points/point-index.ts'
import type { BlockStore } from '../store/api.ts'
import { planRule } from '../rules/index.ts'
import type { RuleRecord } from '../rules/index.ts'

/** Nodes read at once while walking. */
const READ_CONCURRENCY = 16

export interface SentClosuresDeps {
  store: BlockStore
  points: PointIndex
  rules: { list: () => Promise<RuleRecord[]> }
}

/**
 * The blocks of the points this Core replicates to one peer (the points of every rule's machines
 * sending to it): what that peer may ask back in a repair, although this Core never approved it.
 * Membership is checked by walking those points' closures (nodes only: raw leaves are listed in
 * their file nodes) with one seen-set, and stops as soon as every CID asked is found. A CID
 * found once is remembered for the session. Repair is rare, so no index is kept.
 */
export class SentClosures {
  readonly #deps: SentClosuresDeps
  readonly #peer: string
  #points: SignedPoint[] | undefined
  /** keys of CIDs found in the closures so far */
  readonly #found = new Set<string>()

  constructor (deps: SentClosuresDeps, peer: string) {
    this.#deps = deps
    this.#peer = peer
  }

  /** Whether each CID belongs to the closure of a point this Core replicates to the peer. */
  async contains (cids: CID[]): Promise<boolean[]> {
    const points = await this.#load()
    const manifests = new Set(points.map(p => cidKey(p.id)))
    const remaining = new Map<string, number[]>()
    const result = cids.map(() => false)
    cids.forEach((cid, i) => {
      const key = cidKey(cid)
      if (this.#found.has(key) || manifests.has(key)) result[i] = true
      else remaining.set(key, [...remaining.get(key) ?? [], i])
    })
    if (remaining.size === 0) return result
    const found = (key: string): void => {
      const indexes = remaining.get(key)
      if (indexes === undefined) return
      for (const i of indexes) result[i] = true
      remaining.delete(key)
      this.#found.add(key)
    }
    const seen = new Set<string>()
    let level: CID[] = []
    for (const point of points) {
      for (const volume of Object.values(point.manifest.volumes)) {
        const key = cidKey(volume.root)
        found(key)
        if (isRaw(volume.root) || seen.has(key)) continue
        seen.add(key)
        level.push(volume.root)
      }
    }
    while (level.length > 0 && remaining.size > 0) {
      const next: CID[] = []
      for await (const links of readAhead(level, READ_CONCURRENCY, async cid => await this.#links(cid))) {
        for (const child of links) {
          const key = cidKey(child)
          found(key)
          if (isRaw(child) || seen.has(key)) continue
          seen.add(key)
          next.push(child)
        }
        if (remaining.size === 0) break
      }
      level = next
    }
    return result
  }

  /** A node's links, or none when it is not here (or damaged here): its subtree cannot be shown. */
  async #links (cid: CID): Promise<CID[]> {
    try {
      return nodeLinks(decodeNode(cid, await this.#deps.store.get(cid)))
    } catch (err) {
      if (err instanceof MissingBlockError || err instanceof CorruptBlockError || err instanceof MalformedError) return []
      throw err
    }
  }

  async #load (): Promise<SignedPoint[]> {
    if (this.#points !== undefined) return this.#points
    const ids = new Set<string>()
    for (const rule of await this.#deps.rules.list()) {
      if (rule.to !== this.#peer) continue
      let plan
      try {
        plan = await planRule(this.#deps.points, rule)
      } catch (err) {
        if (err instanceof AmbiguousNameError) continue // an ambiguous machine name: its rule sends nothing either
        throw err
      }
      for (const p of plan.points) ids.add(p.record.point)
    }
    const points: SignedPoint[] = []
    for (const id of ids) {
      try {
        points.push(await loadManifest(this.#deps.store, id))
      } catch (err) {
        if (!(err instanceof MissingBlockError || err instanceof CorruptBlockError)) throw err
      }
    }
    this.#points = points
    return points
  }
}
