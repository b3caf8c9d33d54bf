import { isAbsolute } from 'node:path'
import type { CID } from 'multiformats/cid'
import type { Handlers } from '../../api/handler.ts'
import type { PeerNamer } from '../../api/peer-ref.ts'
import { CancelledError } from '../../api/cancel.ts'
import type { ProgressFn } from '../../api/operations.ts'
import { backup } from '../../backup/index.ts'
import { UsageError } from '../../errors.ts'
import type { EventLog } from '../../events/log.ts'
import type { PointIndex } from '../../points/index.ts'
import type { RepositoryFiles } from '../../repo/index.ts'
import { checkRepositoryModes } from '../../repo/modes.ts'
import { listPath, restore, verifyPoints } from '../../restore/index.ts'
import type { BlockStore } from '../../store/index.ts'
import type { Retention } from '../../retention/index.ts'
import { rollupQuietly } from '../rollup.ts'
import type { JobTriggers } from './replication.ts'

/** The parts of a Core the repository operations use. */
export interface RepositoryParts {
  readonly files: RepositoryFiles
  readonly store: BlockStore
  readonly points: PointIndex
  readonly events: EventLog
  /** the rollup after every backup */
  readonly retention: Pick<Retention, 'rollup'>
  /** backups and verifies may start replication jobs */
  readonly triggers: Pick<JobTriggers, 'backedUp' | 'verified'>
  /** the addresses the Core listens on (none without the network) */
  addresses (): string[]
  /** names peers in results (api/peer-ref.ts) */
  readonly name: PeerNamer
}

/** What `drcore verify` reports. */
export interface VerifyReport {
  ok: boolean
  /** blocks rehashed */
  blocks: number
  /** every block in quarantine: found damaged now or before, and not healed yet (CIDs) */
  corrupt: string[]
  /** the same blocks with what is wrong with them and when it was found */
  damaged: Array<{ cid: string, reason: string, at: string }>
  /**
   * blocks missing from points' closures, each once (CIDs), besides those in `corrupt`: never
   * here (orphans) or gone (lost)
   */
  missing: string[]
  /** points whose older data was never here */
  orphans: string[]
  /** points that were complete and lost blocks: data loss until repaired */
  lost: string[]
  /** not failures: repository files or folders other users can read, one line per kind */
  warnings: string[]
}

type RepositoryOperations = 'id' | 'backup' | 'machines' | 'points' | 'ls' | 'restore' | 'verify' | 'events'

/** The operations on the repository itself: identity, backup, browse, restore, verify, events. */
export function repositoryHandlers (core: RepositoryParts) {
  const peerId = core.files.peerId.toString()
  const deps = { store: core.store, points: core.points, privateKey: core.files.privateKey, peerId: core.files.peerId, chunking: core.files.config.chunking }
  return {
    id: async () => ({ peerId, name: core.files.config.name, addresses: core.addresses() }),
    backup: async (input, onProgress) => {
      const volumes = input.volumes as Array<{ name?: unknown, path?: unknown }>
      for (const v of volumes) {
        if (typeof v.name !== 'string' || typeof v.path !== 'string' || !isAbsolute(v.path)) {
          throw new UsageError('backup: each volume needs a "name" and an absolute "path"')
        }
      }
      // the volumes of the machine's latest point that this backup leaves out: said, not dropped silently
      const previous = await core.points.findMachine(input.machine).then(async m => await core.points.latest(m), () => undefined)
      const names = volumes.map(v => v.name as string)
      const leftOut = previous === undefined ? [] : Object.keys(previous.volumes).filter(v => !names.includes(v))
      const result = await backup(deps, {
        machine: input.machine,
        volumes: volumes as Array<{ name: string, path: string }>,
        base: input.base,
        cluster: input.cluster,
        rehash: input.rehash,
        onProgress: onProgress == null ? undefined : p => onProgress({ phase: 'backup', done: p.bytes, total: p.totalBytes, unit: 'bytes', detail: p.path })
      }).catch((err: unknown) => {
        if (err instanceof CancelledError) {
          core.events.emit('backup.cancelled', `the backup of ${input.machine} was cancelled by its operator; no recovery point was taken`, { machine: input.machine }, 'warning')
        }
        throw err
      })
      core.events.emit('backup.finished', result.partial
        ? `recovery point of ${result.machine} taken, partial: ${result.skipped.length} ${result.skipped.length === 1 ? 'entry' : 'entries'} not stored`
        : `recovery point of ${result.machine} taken`, { ...result }, result.partial ? 'warning' : 'info')
      // the rollup: the machine's standing policy applies to its points, the new one among them
      await rollupQuietly(core.retention, core.events, { tenant: '', origin: peerId, machine: result.machine })
      core.triggers.backedUp(result.point)
      const warnings = leftOut.length === 0
        ? []
        : [`the previous point of ${result.machine} (seq ${previous!.seq}) also had volume${leftOut.length === 1 ? '' : 's'} ${leftOut.join(', ')}, which this point does not: ` +
            `a restore of it brings back only ${names.join(', ')}; name every volume in each backup to keep them all`]
      return { ...result, warnings }
    },
    machines: async () => await core.points.machineRows(core.name),
    points: async input => await core.points.pointRows(input.machine, core.name),
    ls: async input => await listPath(deps, { machine: input.machine, point: input.point, volume: input.volume, path: input.path }),
    restore: async (input, onProgress) => {
      if (!isAbsolute(input.dest)) throw new UsageError('restore: "dest" must be an absolute path')
      return await restore(deps, {
        machine: input.machine,
        point: input.point,
        dest: input.dest,
        volume: input.volume,
        path: input.path,
        onProgress: onProgress == null ? undefined : p => onProgress({ phase: 'restore', done: p.bytes, total: p.totalBytes, unit: 'bytes', detail: p.path })
      })
    },
    verify: async (_input, onProgress) => await verify(core, onProgress),
    events: async input => await core.events.list({ since: input.since, limit: input.limit })
  } satisfies Pick<Handlers, RepositoryOperations>
}

/**
 * Rehashes every block; quarantines those whose stored copy is damaged (so that the next
 * writer of the same bytes heals them, see `BlockStore.quarantine`); then checks every point's
 * closure, marking the points that lost blocks as damaged.
 */
async function verify (core: RepositoryParts, onProgress?: ProgressFn): Promise<VerifyReport> {
  let blocks = 0
  const failed: Array<{ cid: CID, reason: string }> = []
  for await (const r of core.store.verifyAll((done, total) => onProgress?.({ phase: 'verify blocks', done, total, unit: 'blocks' }))) {
    blocks++
    if (!r.ok) failed.push({ cid: r.cid, reason: r.error ?? 'it does not verify' })
  }
  const quarantined = await core.store.quarantine(failed)
  const damaged: VerifyReport['damaged'] = []
  for await (const d of core.store.damaged()) damaged.push({ cid: d.cid.toString(), reason: d.reason, at: d.at })
  const points = await verifyPoints({ store: core.store, points: core.points }, core.files.peerId.toString())
  const ok = damaged.length === 0 && points.lost.length === 0
  const warnings = await checkRepositoryModes(core.files.dir)
  const summary = ok
    ? 'repository verified'
    : `verify found ${damaged.length} damaged blocks (${quarantined.length} new) and ${points.lost.length} damaged points`
  core.events.emit('verify.finished', summary, { blocks, corrupt: damaged.length, quarantined: quarantined.length, lost: points.lost.length }, ok ? 'info' : 'error')
  core.triggers.verified({ ok })
  const corrupt = damaged.map(d => d.cid)
  const inQuarantine = new Set(corrupt)
  const missing = points.missing.filter(cid => !inQuarantine.has(cid))
  return { ok, blocks, corrupt, damaged, missing, orphans: points.orphans, lost: points.lost, warnings }
}
