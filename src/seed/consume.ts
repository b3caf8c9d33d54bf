import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { throttled } from '../common/throttle.ts'
import { asExpectedError, FileSystemError, InvalidInputError, isExpectedError, NotAuthorizedError, NotFoundError, OperationalError } from '../errors.ts'
import type { ProgressFn } from '../api/operations.ts'
import type { EventSink } from '../events/api.ts'
import { missingBlocks } from '../points/closure.ts'
import { decodeManifest, loadManifest, parsePointId } from '../points/manifest.ts'
import { pointRecord } from '../points/point-index.ts'
import type { PointIndex } from '../points/point-index.ts'
import type { BlockStore, IndexOp } from '../store/api.ts'
import { decodeBody } from '../store/block-codec.ts'
import { emitRetentionEvent } from '../events/retention.ts'
import { QuotaExceededError } from '../tenants/index.ts'
import type { TenantBlocks, TenantQuotas } from '../tenants/index.ts'
import { missingParts } from './imports.ts'
import { unfinishedParts } from './leftovers.ts'
import type { SeedImports } from './imports.ts'
import { SeedPartReader } from './part-reader.ts'
import { PART_EXTENSION, PLAIN_PART_EXTENSION } from './constants.ts'
import type { ConsumedPart, SeedConsumeResult, SeedDescriptor, SeedImportRecord, VerifiedSeed } from './api.ts'

export interface ConsumeDeps {
  store: BlockStore
  points: PointIndex
  imports: SeedImports
  /** this Core's peer id */
  self: string
  /** the tenant of an approved peer, undefined for any other */
  tenantOf: (peerId: string) => string | undefined
  /** which blocks each tenant delivered: a seed's blocks become visible to its tenant's peer */
  tenants: TenantBlocks
  /** each tenant's quota: a seed that would pass it is refused before any part is read */
  quotas?: Pick<TenantQuotas, 'check'>
  events?: EventSink
}

/** Tenant references written per batch while a part is read. */
const REF_BATCH = 4096

/**
 * Imports the parts of one seed found in `dir` (`*.car.zst`, or `*.car` of older seeds), in part order.
 *
 * The seed must be meant for this Core (or for any) and come from this Core or a peer it
 * approved; otherwise nothing is read past the descriptors and a `UserError` says why. Every
 * block is rehashed and every manifest's signature checked before it is stored; a part counts as
 * imported only when all its blocks were, in the same index batch. A damaged part keeps the
 * blocks verified before the damage and is reported in `errors` (one line per problem), as is a
 * file that is not a part of this seed. Then the seed's points are recorded in the tenant, and
 * every orphan of its machines there is checked again: `pointsCompleted` lists those whose
 * closure is now whole.
 */
export async function consumeSeed (deps: ConsumeDeps, dir: string, onProgress?: ProgressFn): Promise<SeedConsumeResult> {
  const started = performance.now()
  const errors: string[] = []
  const found = await openParts(dir, errors)
  const result: SeedConsumeResult = {
    seed: null, parts: [], blocks: 0, imported: 0, rejected: 0, healed: 0, pointsCompleted: [], tenant: null, missingParts: [], complete: false, errors, seconds: 0
  }
  if (found.length === 0) {
    result.seconds = (performance.now() - started) / 1000
    return result
  }
  const seeds = [...new Set(found.map(r => r.seed.id.toString()))]
  if (seeds.length > 1) {
    await closeAll(found)
    throw new InvalidInputError(`${dir} holds parts of ${seeds.length} seeds (${seeds.join(', ')}): consume each seed from a folder of its own`)
  }
  const seed = found[0].seed
  const id = seed.id.toString()
  const d = seed.descriptor
  result.seed = id
  let tenant: string
  try {
    tenant = tenantFor(deps, seed)
  } catch (err) {
    await closeAll(found)
    throw err
  }
  result.tenant = tenant

  const now = new Date().toISOString()
  let record: SeedImportRecord = await deps.imports.get(id) ?? {
    seed: id, source: d.source, sourceName: d.sourceName, target: d.target, tenant, parts: d.parts, imported: [], points: d.points, machines: d.machines, createdAt: d.createdAt, firstImportAt: now, lastImportAt: now
  }
  const progress = throttled(onProgress)
  const total = found.filter(r => !record.imported.includes(r.part.part)).reduce((n, r) => n + r.size, 0)
  try {
    await checkQuota(deps, seed, tenant, found.filter(r => !record.imported.includes(r.part.part)))
  } catch (err) {
    await closeAll(found)
    throw err
  }
  let read = 0
  const pointIds = new Set(d.points)
  for (const reader of found.sort((a, b) => a.part.part - b.part.part)) {
    const part: ConsumedPart = { part: reader.part.part, file: reader.path, state: 'imported', blocks: 0, imported: 0, rejected: 0 }
    result.parts.push(part)
    if (record.imported.includes(reader.part.part)) {
      part.state = 'already imported'
      await reader.close()
      continue
    }
    let problems: string[]
    const importedBefore = record.imported
    try {
      problems = await importPart(deps, tenant, reader, pointIds, part, result, () => {
        progress({ phase: 'seed consume', done: read + reader.position, total, unit: 'bytes', detail: `part ${reader.part.part} of ${d.parts}` })
      }, (complete) => {
        if (!complete) return []
        const imported = [...record.imported, reader.part.part].sort((a, b) => a - b)
        record = { ...record, imported, lastImportAt: new Date().toISOString() }
        return [deps.imports.putOp(record)]
      })
    } catch (err) {
      await Promise.allSettled(found.map(async r => await r.close()))
      // this Core's disk, not the seed, failed (full, or failing): say so, and what became of the import
      const storage = asExpectedError(err)
      if (!(storage instanceof FileSystemError)) throw err
      const kept = importedBefore.length > 0 ? `part${importedBefore.length > 1 ? 's' : ''} ${importedBefore.join(', ')} and the blocks` : 'the blocks'
      throw storage.withNote(`${kept} of seed ${id} stored before are kept; part ${reader.part.part} is not imported yet`)
    }
    read += reader.size
    result.blocks += part.blocks
    result.imported += part.imported
    result.rejected += part.rejected
    if (problems.length > 0) {
      part.state = 'failed'
      part.error = problems.join('; ')
      errors.push(...problems)
    }
  }
  progress({ phase: 'seed consume', done: read, total, unit: 'bytes' }, true)

  // also when every part was in before: a run interrupted after its last part left the points to settle
  if (result.imported > 0 || record.imported.length > 0) result.pointsCompleted = await settlePoints(deps, d, tenant)
  // good copies of blocks damaged here arrived: points of any tenant that lost them may be whole again
  if (result.healed > 0) {
    const repaired = (await deps.points.recheckOrphans(deps.store)).map(r => r.point)
    result.pointsCompleted = [...new Set([...result.pointsCompleted, ...repaired])]
  }
  result.missingParts = missingParts(d.parts, record.imported)
  result.complete = result.missingParts.length === 0
  result.seconds = (performance.now() - started) / 1000
  announce(deps.events, result, d)
  return result
}

/**
 * A seed for a tenant with a quota is checked against its descriptors' bytes (of the parts to
 * import now) before any part is read: past the quota, nothing of it is stored, and an event
 * says so.
 */
async function checkQuota (deps: ConsumeDeps, seed: VerifiedSeed, tenant: string, parts: SeedPartReader[]): Promise<void> {
  if (deps.quotas === undefined || parts.length === 0) return
  const bytes = parts.reduce((n, r) => n + r.part.bytes, 0)
  const id = seed.id.toString()
  try {
    await deps.quotas.check(tenant, bytes, `seed ${id} (${parts.length === 1 ? `part ${parts[0].part.part}` : `${parts.length} parts`}) was not imported, nothing of it was stored`)
  } catch (err) {
    if (err instanceof QuotaExceededError && deps.events !== undefined) {
      emitRetentionEvent(deps.events, 'tenant.quota-exceeded', err.message, {
        tenant, quota: err.quota, storedBytes: err.storedBytes, bytes, peerId: seed.descriptor.source, point: null, seed: id
      }, 'error')
    }
    throw err
  }
}

/** The tenant the seed's points land in, or a `UserError` saying why this Core refuses it. */
function tenantFor (deps: ConsumeDeps, seed: VerifiedSeed): string {
  const d = seed.descriptor
  if (d.target != null && d.target !== deps.self) {
    throw new InvalidInputError(`seed ${seed.id} was made for Core ${d.target}, not this one (${deps.self})`)
  }
  if (d.source === deps.self) return ''
  const tenant = deps.tenantOf(d.source)
  if (tenant === undefined) {
    throw new NotAuthorizedError(`seed ${seed.id} comes from Core ${d.sourceName} (${d.source}), which this Core has not approved: ` +
      `allow it with "drcore peer allow ${d.source}" (or approve its pairing request), then consume the seed again`)
  }
  return tenant
}

/** Opens every `*.car.zst` and `*.car` in `dir`; a file that is not a usable part becomes one line in `errors`. */
async function openParts (dir: string, errors: string[]): Promise<SeedPartReader[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new NotFoundError(`no such directory: ${dir}`)
    if (code === 'ENOTDIR') throw new InvalidInputError(`${dir} is not a directory: give the folder that holds the seed's .car.zst parts`)
    throw new OperationalError(`cannot read ${dir}: ${(err as Error).message}`)
  }
  // an unfinished part means seed create was interrupted: the seed here was never finished (its
  // source did not record it either), so nothing of it is imported
  const unfinished = unfinishedParts(names)
  if (unfinished.length > 0) {
    throw new InvalidInputError(`${join(dir, unfinished[0])} is a part seed create did not finish (it was interrupted), so the seed in ${dir} is incomplete: run seed create again, and consume the seed it writes`)
  }
  const cars = names.filter(n => n.endsWith(PART_EXTENSION) || n.endsWith(PLAIN_PART_EXTENSION)).sort()
  if (cars.length === 0) throw new InvalidInputError(`${dir} holds no seed: there is no ${PART_EXTENSION} (or ${PLAIN_PART_EXTENSION}) file in it`)
  const readers: SeedPartReader[] = []
  for (const name of cars) {
    try {
      readers.push(await SeedPartReader.open(join(dir, name)))
    } catch (err) {
      if (isExpectedError(err)) errors.push(err.message)
      else if (isFileError(err)) errors.push(`${name}: cannot read it: ${err.message}`)
      else throw err
    }
  }
  return readers
}

/**
 * Imports one part through one block writer. Returns the problems found (none: the part is in).
 * `finalOps(complete)` gives the index writes to commit with the last blocks.
 */
async function importPart (deps: ConsumeDeps, tenant: string, reader: SeedPartReader, pointIds: Set<string>, part: ConsumedPart,
  totals: { healed: number }, onBlock: () => void, finalOps: (complete: boolean) => IndexOp[]): Promise<string[]> {
  const problems: string[] = []
  const writer = deps.store.writer()
  const refs: CID[] = []
  let bytes = 0
  try {
    for await (const section of reader.sections()) {
      if (!section.valid) {
        part.rejected++
        problems.push(`${reader.file}: block ${section.cid} at byte ${section.offset} was refused: ${section.reason}`)
        continue
      }
      if (pointIds.has(section.cid.toString())) {
        try {
          const { flags, body, rawLength } = section.stored
          await decodeManifest(flags === 0 ? body : await decodeBody(section.cid, flags, body, rawLength), section.cid)
        } catch (err) {
          if (!isExpectedError(err)) throw err
          section.proved?.release()
          part.rejected++
          problems.push(`${reader.file}: ${err.message}; the point was refused`)
          continue
        }
      }
      part.blocks++
      bytes += section.stored.rawLength
      // a .car.zst carries blocks as their source stored them: stored so, not compressed again,
      // and not proved again either (the reader proved them, keeping the copy it proved)
      const added = section.proved === undefined ? await writer.put(section.cid, section.stored.body) : await writer.putProved(section.proved)
      if (added) part.imported++
      // the seed carried these bytes, so the tenant's peer may learn that they are here
      refs.push(section.cid)
      // indexed first: a reference counts its block's stored size in the tenant's usage
      if (refs.length >= REF_BATCH) await deps.tenants.add(tenant, refs.splice(0), { after: async () => { await writer.flush() } })
      onBlock()
    }
    const expected = reader.part.blocks
    const seen = part.blocks + part.rejected
    if (seen < expected) problems.push(`${reader.file} is truncated: it ends after ${seen} of its ${expected} blocks`)
    else if (seen > expected) problems.push(`${reader.file} is damaged: it holds ${seen} blocks, its descriptor lists ${expected}`)
    else if (problems.length === 0 && bytes !== reader.part.bytes) problems.push(`${reader.file} is damaged: its blocks hold ${bytes} bytes, its descriptor says ${reader.part.bytes}`)
  } catch (err) {
    if (isExpectedError(err)) problems.push(err.message)
    else if (isFileError(err)) problems.push(`${reader.file}: cannot read it: ${err.message}`)
    else {
      await writer.abort()
      await reader.close()
      throw err
    }
  }
  try {
    // Verified blocks are kept even when the part is not whole; the part is recorded only when it
    // is, in the same batch as its last blocks' tenant references (written once the blocks are
    // indexed, so the tenant's usage counts their stored size): a recorded part is never read
    // again, so a crash after the record must not lose them
    const stats = await deps.tenants.commitWithRefs(tenant, refs, async ops => await writer.commit([...ops, ...finalOps(problems.length === 0)]), { after: async () => { await writer.flush() } })
    totals.healed += stats.healed
  } catch (err) {
    await writer.abort()
    throw err
  } finally {
    await reader.close()
  }
  return problems
}

/**
 * Records the seed's points that arrived (manifest present) in `tenant`, and rechecks every
 * point of the seed and every orphan of its machines in the tenant. Returns the ids of points
 * that became complete.
 */
async function settlePoints (deps: ConsumeDeps, seed: SeedDescriptor, tenant: string): Promise<string[]> {
  const completed: string[] = []
  const checked = new Set<string>()
  const receivedAt = new Date().toISOString()
  for (const id of seed.points) {
    checked.add(id)
    const existing = await deps.points.get(id, tenant)
    if (existing?.complete === true) continue
    if (existing === undefined) {
      if (!await deps.store.has(parsePointId(id))) continue
      const signed = await loadManifest(deps.store, id)
      const { count } = await missingBlocks(deps.store, signed, { limit: 0 })
      const others = await deps.points.records(id)
      await deps.points.record(pointRecord(signed, {
        tenant, complete: count === 0, missing: count, receivedFrom: seed.source === deps.self ? undefined : seed.source, receivedAt
      }))
      if (others.length > 0) await deps.points.setCompleteness(id, count === 0, count)
      if (count === 0) completed.push(id)
      continue
    }
    const [record] = await deps.points.checkCompleteness(deps.store, id)
    if (record.complete) completed.push(id)
  }
  const machines = new Set(seed.machines.map(m => `${m.origin}\u0000${m.machine}`))
  for (const orphan of await deps.points.orphans()) {
    if (orphan.tenant !== tenant || checked.has(orphan.point) || !machines.has(`${orphan.origin}\u0000${orphan.machine}`)) continue
    checked.add(orphan.point)
    const [record] = await deps.points.checkCompleteness(deps.store, orphan.point)
    if (record.complete) completed.push(orphan.point)
  }
  return completed
}

function announce (events: EventSink | undefined, result: SeedConsumeResult, seed: SeedDescriptor): void {
  if (events === undefined || result.seed === null) return
  const imported = result.parts.filter(p => p.state === 'imported').map(p => p.part)
  const state = result.complete ? 'every part is in' : `parts still missing: ${result.missingParts.join(', ')}`
  const message = `seed ${result.seed} from ${seed.sourceName}: imported ${imported.length === 0 ? 'no new part' : `part${imported.length > 1 ? 's' : ''} ${imported.join(', ')}`} of ${seed.parts}, ` +
    `${result.imported} new blocks, ${result.pointsCompleted.length} points completed; ${state}`
  events.emit('seed.consumed', message, {
    seed: result.seed,
    source: seed.source,
    tenant: result.tenant,
    parts: imported,
    missingParts: result.missingParts,
    blocks: result.blocks,
    imported: result.imported,
    rejected: result.rejected,
    pointsCompleted: result.pointsCompleted,
    errors: result.errors.length
  }, result.errors.length > 0 ? 'warning' : 'info')
}

/** An error of the file system (a removable drive that fails, a file we may not read). */
function isFileError (err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' && typeof (err as NodeJS.ErrnoException).errno === 'number'
}

async function closeAll (readers: SeedPartReader[]): Promise<void> {
  await Promise.all(readers.map(async r => await r.close()))
}
