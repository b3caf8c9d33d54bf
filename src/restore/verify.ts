import { MalformedError, MissingBlockError, CorruptBlockError } from '../errors.ts'
import { loadManifest } from '../points/manifest.ts'
import { missingBlocks } from '../points/closure.ts'
import type { RestoreDeps } from './api.ts'

export interface VerifyPointsResult {
  /** points checked */
  checked: number
  /**
   * blocks missing over all points, each once however many points need it (CIDs; a missing node
   * hides its subtree: the blocks below it are not listed)
   */
  missing: string[]
  /** points whose older data was never here (ids) */
  orphans: string[]
  /** points that were complete and have lost blocks: data loss until repaired (ids) */
  lost: string[]
  /** points that were orphans or damaged and turned out complete */
  completed: string[]
}

/**
 * Checks every point's closure against the store and updates the cached completeness. Blocks in
 * quarantine (`BlockStore.quarantine`) are absent from the store, so a point that needs one is
 * incomplete; one that was complete before, or that this Core (`self`) took itself, is damaged
 * (`lost`).
 */
export async function verifyPoints (deps: RestoreDeps, self?: string): Promise<VerifyPointsResult> {
  const result: VerifyPointsResult = { checked: 0, missing: [], orphans: [], lost: [], completed: [] }
  const missingCids = new Set<string>()
  // Completeness belongs to the blocks: check each point once, whatever tenants hold it.
  const ids = new Set((await deps.points.all()).map(record => record.point))
  for (const id of ids) {
    result.checked++
    let missing: number
    try {
      const report = await missingBlocks(deps.store, await loadManifest(deps.store, id), { limit: Infinity })
      missing = report.count
      for (const cid of report.cids) missingCids.add(cid.toString())
    } catch (err) {
      if (!(err instanceof MissingBlockError || err instanceof CorruptBlockError || err instanceof MalformedError)) throw err
      missing = 1 // the manifest block itself
      missingCids.add(id)
    }
    const before = await deps.points.records(id)
    // a point this Core took was complete when committed: any block it lacks now was lost
    const own = self !== undefined && before.some(r => r.tenant === '' && r.origin === self)
    const [after] = await deps.points.setCompleteness(id, missing === 0, missing, { lost: own })
    if (after.damaged === true) result.lost.push(id)
    else if (!after.complete) result.orphans.push(id)
    else if (before.some(r => !r.complete)) result.completed.push(id)
  }
  result.missing = [...missingCids]
  return result
}
