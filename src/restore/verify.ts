import type { CID } from 'multiformats/cid'
import { MalformedError, MissingBlockError, CorruptBlockError } from '../errors.ts'
import { loadManifest } from '../points/manifest.ts'
import { missingBlocks } from '../points/closure.ts'
import type { BlockStore } from '../store/api.ts'
import type { RestoreDeps } from './index.ts'

export interface VerifyPointsResult {
  /** points checked */
  checked: number
  /** missing blocks over all points (a missing node hides its subtree and counts once) */
  missing: number
  /** points whose closure is incomplete (ids) */
  orphans: string[]
  /** points that were complete and have lost a block since: data loss (ids) */
  lost: string[]
  /** orphans that turned out complete */
  completed: string[]
}

/**
 * Checks every point's closure against the store and updates the cached completeness. Blocks in
 * `corrupt` (CID strings, e.g. from `store.verifyAll`) count as missing.
 */
export async function verifyPoints (deps: RestoreDeps, corrupt: string[] = []): Promise<VerifyPointsResult> {
  const store = corrupt.length === 0 ? deps.store : withoutBlocks(deps.store, new Set(corrupt))
  const result: VerifyPointsResult = { checked: 0, missing: 0, orphans: [], lost: [], completed: [] }
  // Completeness belongs to the blocks: check each point once, whatever tenants hold it.
  const byId = new Map<string, boolean>()
  for (const record of await deps.points.all()) byId.set(record.point, (byId.get(record.point) ?? true) && record.complete)
  for (const [id, wasComplete] of byId) {
    result.checked++
    let missing: number
    try {
      missing = (await missingBlocks(store, await loadManifest(store, id), { limit: 0 })).count
    } catch (err) {
      if (!(err instanceof MissingBlockError || err instanceof CorruptBlockError || err instanceof MalformedError)) throw err
      missing = 1 // the manifest block itself
    }
    result.missing += missing
    if (missing > 0) {
      result.orphans.push(id)
      if (wasComplete) result.lost.push(id)
    } else if (!wasComplete) {
      result.completed.push(id)
    }
    await deps.points.setCompleteness(id, missing === 0, missing)
  }
  return result
}

/** A view of a store in which some blocks are absent. */
function withoutBlocks (store: BlockStore, absent: Set<string>): BlockStore {
  const view = Object.create(store) as BlockStore
  view.has = async (cid: CID) => !absent.has(cid.toString()) && await store.has(cid)
  view.hasMany = async (cids: CID[]) => (await store.hasMany(cids)).map((has, i) => has && !absent.has(cids[i].toString()))
  view.get = async (cid: CID) => {
    if (absent.has(cid.toString())) throw new MissingBlockError(cid.toString())
    return await store.get(cid)
  }
  return view
}
