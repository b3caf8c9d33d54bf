import { isAbsolute } from 'node:path'
import type { CID } from 'multiformats/cid'
import { operations } from './api/operations.ts'
import type { OperationName, OperationSpec, ProgressFn } from './api/operations.ts'
import { validateInput } from './api/validate.ts'
import { asUserError, UsageError } from './errors.ts'
import { EventLog } from './events/log.ts'
import { openRepositoryFiles } from './repo/index.ts'
import type { RepositoryFiles } from './repo/index.ts'
import { checkRepositoryModes } from './repo/modes.ts'
import { openBlockStore } from './store/index.ts'
import type { BlockStore } from './store/index.ts'
import { PointIndex } from './points/index.ts'
import { backup } from './backup/index.ts'
import { listPath, restore, verifyPoints } from './restore/index.ts'
import { PeerRegistry } from './peers/index.ts'
import type { PairingService } from './peers/index.ts'
import { peerHandlers } from './peers/handlers.ts'
import { seedHandlers } from './seed/handlers.ts'
import { statusHandlers } from './status/index.ts'
import { replicationHandlers } from './replication/handlers.ts'
import { RuleStore } from './rules/index.ts'
import { repair } from './repair/index.ts'
import type { ReplicationEngine } from './replication/engine.ts'
import type { ReplicationScheduler } from './scheduler/index.ts'
import type { DrcoreNode } from './net/index.ts'

export type Handler = (input: any, onProgress?: ProgressFn) => Promise<unknown>
export type Handlers = Partial<Record<OperationName, Handler>>

/** What handler factories in other modules may use: the Core's parts (network ones when online). */
export interface CoreParts {
  readonly files: RepositoryFiles
  readonly store: BlockStore
  readonly points: PointIndex
  readonly events: EventLog
  readonly peers: PeerRegistry
  readonly node?: DrcoreNode
  readonly pairing?: PairingService
  readonly replication?: ReplicationEngine
  readonly scheduler?: ReplicationScheduler
}

/**
 * The composition root: one repository and every service built on it. The CLI uses a Core
 * in-process when no daemon runs; `drcore start` builds one with the network and HTTP API on top
 * (see daemon.ts). Every operation of the table in api/operations.ts is a handler here.
 */
export class Core implements CoreParts {
  readonly files: RepositoryFiles
  readonly store: BlockStore
  readonly points: PointIndex
  readonly events: EventLog
  readonly peers: PeerRegistry
  node?: DrcoreNode
  pairing?: PairingService
  replication?: ReplicationEngine
  scheduler?: ReplicationScheduler
  private readonly handlers: Handlers

  private constructor (files: RepositoryFiles, store: BlockStore, points: PointIndex, events: EventLog, peers: PeerRegistry) {
    this.files = files
    this.store = store
    this.points = points
    this.events = events
    this.peers = peers
    this.handlers = { ...this.buildHandlers(), ...peerHandlers(this), ...seedHandlers(this), ...statusHandlers(this), ...replicationHandlers(this) }
  }

  static async open (dir: string): Promise<Core> {
    const files = await openRepositoryFiles(dir)
    try {
      const store = await openBlockStore({ dir: files.packsDir, db: files.db })
      const events = new EventLog(files.db)
      await events.start()
      const peers = await PeerRegistry.open(files.db, { self: files.peerId.toString(), events })
      return new Core(files, store, new PointIndex(files.db), events, peers)
    } catch (err) {
      await files.db.close()
      throw err
    }
  }

  get peerId (): string {
    return this.files.peerId.toString()
  }

  /** Runs one operation with validated input: the single entry point for the CLI and the API. */
  async run (name: OperationName, input: Record<string, unknown>, onProgress?: ProgressFn): Promise<unknown> {
    const spec: OperationSpec | undefined = operations[name]
    const handler = this.handlers[name]
    if (spec == null || handler == null) throw new UsageError(`unknown operation: ${name}`)
    try {
      return await handler(validateInput(name, spec, input), onProgress)
    } catch (err) {
      // a full disk or a failing one is the operator's to fix: one line, not a bug's stack
      throw asUserError(err) ?? err
    }
  }

  /** Extra handlers registered by the daemon (network operations). */
  register (name: OperationName, handler: Handler): void {
    this.handlers[name] = handler
  }

  /**
   * Starts libp2p, the pairing service, the replication engine and the scheduler (the daemon
   * does this; CLI-only Cores stay offline). `DRCORE_RETRY_DELAYS` (e.g. `5s,1m`) overrides the
   * waits before retrying a failed replication job, `DRCORE_REPLICATION_TUNING` the engine's
   * tunables (src/replication/tuning.ts).
   */
  async startNetwork (): Promise<void> {
    const { createNode } = await import('./net/index.ts')
    const { PairingService } = await import('./peers/index.ts')
    const { ReplicationEngine } = await import('./replication/engine.ts')
    const { REPLICATION_TUNING_ENV, parseReplicationTuning } = await import('./replication/tuning.ts')
    const tuning = parseReplicationTuning(process.env[REPLICATION_TUNING_ENV])
    const { RuleStore } = await import('./rules/index.ts')
    const { ReplicationScheduler, RETRY_DELAYS_ENV, parseDelays } = await import('./scheduler/index.ts')
    const node = await createNode({ privateKey: this.files.privateKey, listen: this.files.config.listen, trust: this.peers, events: this.events })
    this.node = node
    this.pairing = new PairingService({ node, registry: this.peers, name: this.files.config.name })
    await this.pairing.start()
    this.replication = new ReplicationEngine({ ...this.parts(), node }, tuning)
    await this.replication.start()
    this.scheduler = new ReplicationScheduler({
      rules: new RuleStore(this.files.db),
      jobs: this.replication,
      events: this.events,
      points: this.points,
      peers: this.peers,
      retryDelays: parseDelays(process.env[RETRY_DELAYS_ENV])
    })
    await this.scheduler.start()
  }

  /** Stops jobs first (the scheduler), then the engine's handlers, pairing and libp2p. */
  async stopNetwork (): Promise<void> {
    await this.scheduler?.stop()
    await this.replication?.stop()
    await this.pairing?.stop()
    await this.node?.stop()
    this.scheduler = undefined
    this.replication = undefined
    this.pairing = undefined
    this.node = undefined
  }

  private parts (): CoreParts {
    return { files: this.files, store: this.store, points: this.points, events: this.events, peers: this.peers, node: this.node, pairing: this.pairing }
  }

  async close (): Promise<void> {
    await this.stopNetwork()
    await this.events.flush()
    await this.store.close()
    await this.files.db.close()
  }

  private deps () {
    return { store: this.store, points: this.points, privateKey: this.files.privateKey, peerId: this.files.peerId }
  }

  private buildHandlers (): Handlers {
    return {
      id: async () => ({ peerId: this.peerId, name: this.files.config.name, addresses: this.node?.addresses() ?? [] }),
      backup: async (input, onProgress) => {
        const volumes = input.volumes as Array<{ name?: unknown, path?: unknown }>
        for (const v of volumes) {
          if (typeof v.name !== 'string' || typeof v.path !== 'string' || !isAbsolute(v.path)) {
            throw new UsageError('backup: each volume needs a "name" and an absolute "path"')
          }
        }
        const result = await backup(this.deps(), {
          machine: input.machine,
          volumes: volumes as Array<{ name: string, path: string }>,
          base: input.base,
          cluster: input.cluster,
          rehash: input.rehash,
          onProgress: onProgress == null ? undefined : p => onProgress({ phase: 'backup', done: p.bytes, total: p.totalBytes, unit: 'bytes', detail: p.path })
        })
        this.events.emit('backup.finished', result.partial
          ? `recovery point of ${result.machine} taken, partial: ${result.skipped.length} ${result.skipped.length === 1 ? 'entry' : 'entries'} not stored`
          : `recovery point of ${result.machine} taken`, { ...result }, result.partial ? 'warning' : 'info')
        return result
      },
      machines: async () => await this.points.machineRows(),
      points: async input => await this.points.pointRows(input.machine),
      ls: async input => await listPath(this.deps(), { machine: input.machine, point: input.point, volume: input.volume, path: input.path }),
      restore: async (input, onProgress) => {
        if (!isAbsolute(input.dest)) throw new UsageError('restore: "dest" must be an absolute path')
        return await restore(this.deps(), {
          machine: input.machine,
          point: input.point,
          dest: input.dest,
          volume: input.volume,
          path: input.path,
          onProgress: onProgress == null ? undefined : p => onProgress({ phase: 'restore', done: p.bytes, total: p.totalBytes, unit: 'bytes', detail: p.path })
        })
      },
      verify: async (_input, onProgress) => await this.verify(onProgress),
      repair: async (input, onProgress) => await repair({
        store: this.store,
        points: this.points,
        peers: this.peers,
        rules: new RuleStore(this.files.db),
        events: this.events,
        network: this.replication
      }, { from: input.from, onProgress }),
      events: async input => await this.events.list({ since: input.since, limit: input.limit })
    }
  }

  /**
   * Rehashes every block; quarantines those whose stored copy is damaged (so that the next
   * writer of the same bytes heals them, see `BlockStore.quarantine`); then checks every point's
   * closure, marking the points that lost blocks as damaged.
   */
  async verify (onProgress?: ProgressFn): Promise<VerifyReport> {
    let blocks = 0
    const failed: Array<{ cid: CID, reason: string }> = []
    for await (const r of this.store.verifyAll((done, total) => onProgress?.({ phase: 'verify blocks', done, total, unit: 'blocks' }))) {
      blocks++
      if (!r.ok) failed.push({ cid: r.cid, reason: r.error ?? 'it does not verify' })
    }
    const quarantined = await this.store.quarantine(failed)
    const damaged: VerifyReport['damaged'] = []
    for await (const d of this.store.damaged()) damaged.push({ cid: d.cid.toString(), reason: d.reason, at: d.at })
    const points = await verifyPoints(this.deps(), this.peerId)
    const ok = damaged.length === 0 && points.lost.length === 0
    const warnings = await checkRepositoryModes(this.files.dir)
    const summary = ok
      ? 'repository verified'
      : `verify found ${damaged.length} damaged blocks (${quarantined.length} new) and ${points.lost.length} damaged points`
    this.events.emit('verify.finished', summary, { blocks, corrupt: damaged.length, quarantined: quarantined.length, lost: points.lost.length }, ok ? 'info' : 'error')
    return { ok, blocks, corrupt: damaged.map(d => d.cid), damaged, missing: points.missing, orphans: points.orphans, lost: points.lost, warnings }
  }
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
  /** blocks missing over all points' closures */
  missing: number
  /** points whose older data was never here */
  orphans: string[]
  /** points that were complete and lost blocks: data loss until repaired */
  lost: string[]
  /** not failures: repository files or folders other users can read, one line per kind */
  warnings: string[]
}
