import type { Handlers } from '../../api/handler.ts'
import type { PeerNamer } from '../../api/peer-ref.ts'
import type { Progress, ProgressFn } from '../../api/operations.ts'
import { NotFoundError, UsageError, UserError } from '../../errors.ts'
import type { PeerRegistry } from '../../peers/index.ts'
import { isPeerId } from '../../peers/record.ts'
import type { PointIndex } from '../../points/index.ts'
import type { FetchResult, RuleRow } from '../../replication/api.ts'
import type { ReplicationEngine } from '../../replication/engine.ts'
import type { RepositoryFiles } from '../../repo/index.ts'
import { checkRuleMachine, checkSchedule, checkWindow, DEFAULT_STREAMS, parseRate, parseStreams } from '../../rules/index.ts'
import type { JobProgress, JobResult, RuleRecord, RuleStore } from '../../rules/index.ts'
import { whyCannotSend } from '../../scheduler/index.ts'
import type { ReplicationScheduler, RuleActivity } from '../../scheduler/index.ts'

/** The parts of a Core the replication operations use. */
export interface ReplicationParts {
  readonly files: Pick<RepositoryFiles, 'peerId'>
  readonly points: PointIndex
  readonly peers: PeerRegistry
  readonly rules: RuleStore
  /** names peers in results (api/peer-ref.ts) */
  readonly name: PeerNamer
}

/**
 * What the other operations tell the scheduler, because it may start jobs: a backup, a verify,
 * a seed drive consumed or abandoned. These are calls the composition root makes, not events
 * the scheduler listens for (docs/architecture.md, "Events"); without the network they do
 * nothing, and the daemon wakes every rule when it starts.
 */
export interface JobTriggers {
  /** a backup of this Core took `point` */
  backedUp (point: string): void
  verified (report: { ok: boolean }): void
  seedConsumed (result: { imported: number }): void
  seedAbandoned (rules: Array<{ machine: string, to: string }>): void
}

/**
 * What the rule operations need of the running Core: its scheduler (what a rule is doing, jobs
 * now) and its engine (points behind, telling the target, fetch). `runningJobs` provides it on a
 * running Core; without the network, `OFFLINE_JOBS` shows no activity and refuses what needs a
 * peer, while rules stay records that the daemon picks up when it starts.
 */
export interface RuleJobs extends JobTriggers {
  activity (machine: string, to: string): RuleActivity | undefined
  /** points the target lacks; null while the Core is not running */
  pointsBehind (rule: RuleRecord): Promise<number | null>
  added (rule: RuleRecord): void
  paused (machine: string, to: string): Promise<void>
  resumed (rule: RuleRecord): void
  /** the schedule, window or limit changed */
  changed (rule: RuleRecord): void
  /** asks the target whether the rule's outstanding seeds arrived (nothing is sent) */
  checkSeeds (rule: RuleRecord): Promise<void>
  /** a job now; `outcome` settles when it ends */
  now (rule: RuleRecord, onProgress?: (p: JobProgress) => void): Promise<{ outcome: Promise<JobResult> }>
  /** stops the rule's jobs before it is removed; with `deleteRemote`, the target deletes its points first */
  remove (rule: RuleRecord, deleteRemote: boolean): Promise<void>
  fetch (options: { machine: string, from: string, point?: string, onProgress?: ProgressFn }): Promise<FetchResult>
}

export const OFFLINE_JOBS: RuleJobs = {
  activity: () => undefined,
  pointsBehind: async () => null,
  added: () => {},
  paused: async () => {},
  resumed: () => {},
  changed: () => {},
  checkSeeds: async () => {},
  now: async () => { throw new UserError('replication now needs the running Core (drcore start)') },
  remove: async (_rule, deleteRemote) => {
    if (deleteRemote) throw new UserError('--delete-remote needs the running Core, to tell the target (drcore start); or remove the rule and keep the remote points')
  },
  fetch: async () => { throw new UserError('fetch needs the running Core (drcore start)') },
  backedUp: () => {},
  verified: () => {},
  seedConsumed: () => {},
  seedAbandoned: () => {}
}

/** How often, at most, looking at a seed-drive rule asks its target whether the seed arrived. */
const SEED_CHECK_INTERVAL_MS = 10_000

/** The rule operations' view of a running Core. */
export function runningJobs (scheduler: ReplicationScheduler, engine: ReplicationEngine): RuleJobs {
  const seedChecks = new Map<string, number>()
  return {
    activity: (machine, to) => scheduler.activity(machine, to),
    pointsBehind: async rule => await engine.pointsBehind(rule),
    added: rule => { scheduler.added(rule) },
    paused: async (machine, to) => { await scheduler.paused(machine, to) },
    resumed: rule => { scheduler.resumed(rule) },
    changed: rule => { scheduler.changed(rule) },
    checkSeeds: async rule => {
      // every 10 s per rule at most, and never beside its job (which checks them itself)
      const key = `${rule.to} ${rule.machine}`
      const last = seedChecks.get(key) ?? 0
      if (Date.now() - last < SEED_CHECK_INTERVAL_MS || scheduler.activity(rule.machine, rule.to)?.running === true) return
      try {
        if ((await engine.checkSeeds(rule)).asked) seedChecks.set(key, Date.now())
      } catch {
        seedChecks.set(key, Date.now()) // an unreachable target: the rule shows why; asked again later
      }
    },
    now: async (rule, onProgress) => await scheduler.now(rule.machine, rule.to, onProgress),
    remove: async (rule, deleteRemote) => {
      await scheduler.removed(rule.machine, rule.to)
      if (!deleteRemote) return
      try {
        await engine.deleteRemote(rule.machine, rule.to)
      } catch (err) {
        scheduler.added(rule) // the rule stays: try again, or remove it without --delete-remote
        throw err
      }
    },
    fetch: async options => await engine.fetch(options),
    backedUp: point => { scheduler.backedUp(point) },
    verified: report => { scheduler.verified(report) },
    seedConsumed: result => { scheduler.seedConsumed(result) },
    seedAbandoned: rules => { scheduler.seedAbandoned(rules) }
  }
}

/**
 * The replication operations (ruleAdd, rules, rulePause, ruleResume, ruleNow, ruleRemove, fetch
 * in api/operations.ts). Rules can be added, listed, paused, resumed and removed without the
 * daemon (they are records; jobs run when it starts); `now`, `fetch` and `--delete-remote` need
 * the running Core.
 */
export function replicationHandlers (core: ReplicationParts, jobs: RuleJobs) {
  const { rules } = core
  const self = core.files.peerId.toString()
  const label = (peerId: string): string => core.peers.get(peerId)?.name ?? peerId

  /** `--to`/`--from`: a known peer by name or id, or the id of a Core not paired yet. */
  const peerOf = (peer: string, flag: string): string => {
    let peerId: string
    try {
      peerId = core.peers.resolve(peer).peerId
    } catch (err) {
      if (!(err instanceof NotFoundError) || !isPeerId(peer)) {
        throw new NotFoundError(`${flag}: unknown peer ${peer}: pair with it first (drcore peer add <its multiaddr>), or give its peer id`)
      }
      peerId = peer
    }
    if (peerId === self) throw new UsageError(`${flag}: ${peer} is this Core itself`)
    return peerId
  }

  const ruleOf = async (machine: string, to: string): Promise<RuleRecord> => {
    try {
      return await rules.get(machine, to)
    } catch (err) {
      if (err instanceof NotFoundError) throw new NotFoundError(`no rule sends ${machine} to ${label(to)} (drcore replication list shows the rules)`)
      throw err
    }
  }

  const row = async (rule: RuleRecord): Promise<RuleRow> => {
    const activity = jobs.activity(rule.machine, rule.to)
    const blocked = whyCannotSend(core.peers, rule.to)
    const state: RuleRow['state'] = rule.paused
      ? 'paused'
      : activity?.running === true ? 'running' : blocked != null || rule.state === 'error' ? 'error' : 'idle'
    return {
      machine: rule.machine,
      to: core.name(rule.to),
      state,
      schedule: rule.schedule,
      lastPoint: rule.lastPoint,
      pointsBehind: await jobs.pointsBehind(rule),
      bytesSent: rule.bytesSent + (activity?.progress?.bytesSent ?? 0),
      error: state === 'error' ? blocked ?? rule.error : null,
      window: rule.window,
      paused: rule.paused,
      seedDrive: rule.seedDrive,
      seedState: rule.seedState,
      limit: rule.limit,
      streams: rule.streams ?? DEFAULT_STREAMS,
      createdAt: rule.createdAt,
      lastRunAt: rule.lastRunAt,
      lastSuccessAt: rule.lastSuccessAt,
      job: activity?.progress != null && activity.startedAt != null ? jobRow(activity.progress, activity.startedAt) : null,
      waitingForWindow: activity?.waitingForWindow ?? null,
      retryAt: activity?.retryAt ?? null,
      nextRunAt: activity?.nextRunAt ?? null
    }
  }

  /** Seed-drive rules leave the machine's points of today (its cluster's too) to the seed. */
  const seedPointsOf = async (machineName: string): Promise<string[]> => {
    let machine
    try {
      machine = await core.points.findMachine(machineName)
    } catch (err) {
      if (err instanceof NotFoundError) throw new UsageError(`--seed-drive: ${machineName} has no recovery points on this Core yet, so nothing would go on a seed drive; add the rule without --seed-drive`)
      throw err
    }
    const members = machine.cluster == null
      ? [machine]
      : (await core.points.machines({ tenant: machine.tenant })).filter(m => m.origin === machine.origin && m.cluster === machine.cluster)
    const ids: string[] = []
    for (const m of members) for (const p of await core.points.points(m)) ids.push(p.point)
    return ids
  }

  return {
    ruleAdd: async input => {
      const machine = checkRuleMachine(input.machine)
      const to = peerOf(input.to, '--to')
      const schedule = input.schedule === undefined ? undefined : checkSchedule(input.schedule)
      const window = input.window === undefined ? undefined : checkWindow(input.window)
      const limit = input.limit === undefined ? undefined : parseRate(input.limit)
      const streams = input.streams === undefined ? undefined : parseStreams(input.streams)
      const seedDrive = input.seedDrive === true
      const seedPoints = seedDrive ? await seedPointsOf(machine) : []
      const warnings = await core.points.findMachine(machine).then(() => [], (err: unknown) => {
        if (err instanceof NotFoundError) return [`this Core has no recovery point of ${machine}: the rule sends it once a backup or a replication brings one here; check the name (drcore machines)`]
        throw err
      })
      const rule = await rules.add({ machine, to, schedule, window, paused: input.paused === true, seedDrive, seedPoints, limit, streams })
      jobs.added(rule)
      return { ...await row(rule), warnings }
    },

    rules: async () => {
      // a seed consumed on the target shows here when the operator looks, not only after the next job
      const waiting = (await rules.list()).filter(r => r.seedDrive && r.seedState === 'outstanding' && !r.paused)
      await Promise.all(waiting.map(async r => { await jobs.checkSeeds(r) }))
      return await Promise.all((await rules.list()).map(row))
    },

    rulePause: async input => {
      const to = peerOf(input.to, '--to')
      await ruleOf(input.machine, to)
      const rule = await rules.update(input.machine, to, r => { r.paused = true })
      await jobs.paused(rule.machine, rule.to)
      return await row(await rules.get(rule.machine, rule.to))
    },

    ruleResume: async input => {
      const to = peerOf(input.to, '--to')
      await ruleOf(input.machine, to)
      const rule = await rules.update(input.machine, to, r => { r.paused = false })
      jobs.resumed(rule)
      return await row(rule)
    },

    ruleSet: async input => {
      const to = peerOf(input.to, '--to')
      await ruleOf(input.machine, to)
      // checked before anything changes; `none` clears a window or a limit
      const schedule = input.schedule === undefined ? undefined : checkSchedule(input.schedule)
      const window = input.window === undefined ? undefined : input.window === 'none' ? null : checkWindow(input.window)
      const limit = input.limit === undefined ? undefined : input.limit === 'none' ? null : parseRate(input.limit)
      const streams = input.streams === undefined ? undefined : parseStreams(input.streams)
      if (schedule === undefined && window === undefined && limit === undefined && streams === undefined) {
        throw new UsageError('replication set: give what to change: --schedule, --window, --limit or --streams')
      }
      const rule = await rules.update(input.machine, to, r => {
        if (schedule !== undefined) r.schedule = schedule
        if (window !== undefined) r.window = window
        if (limit !== undefined) r.limit = limit
        if (streams !== undefined) r.streams = streams
      })
      jobs.changed(rule)
      return await row(rule)
    },

    ruleNow: async (input, onProgress) => {
      const to = peerOf(input.to, '--to')
      const rule = await ruleOf(input.machine, to)
      const { outcome } = await jobs.now(rule, onProgress == null ? undefined : jobProgress(onProgress))
      if (input.wait === false) {
        outcome.catch(() => {}) // the job's end is recorded on the rule and in the event log
        return { machine: rule.machine, to: core.name(rule.to), started: true }
      }
      const result: JobResult = await outcome
      return { machine: rule.machine, to: core.name(rule.to), started: true, ...result }
    },

    ruleRemove: async input => {
      const to = peerOf(input.to, '--to')
      const rule = await ruleOf(input.machine, to)
      const deleteRemote = input.deleteRemote === true
      await jobs.remove(rule, deleteRemote)
      await rules.remove(rule.machine, rule.to)
      return { machine: rule.machine, to: core.name(rule.to), removed: true, deletedRemote: deleteRemote }
    },

    fetch: async (input, onProgress) => {
      const from = peerOf(input.from, '--from')
      const result = await jobs.fetch({ machine: input.machine, from, point: input.point, onProgress })
      return { ...result, from: core.name(result.from) }
    }
  } satisfies Pick<Handlers, 'ruleAdd' | 'rules' | 'rulePause' | 'ruleResume' | 'ruleSet' | 'ruleNow' | 'ruleRemove' | 'fetch'>
}

function jobRow (progress: JobProgress, startedAt: string): NonNullable<RuleRow['job']> {
  const seconds = (Date.now() - Date.parse(startedAt)) / 1000
  return { ...progress, startedAt, rate: seconds > 0 ? Math.round(progress.bytesSent / seconds) : 0 }
}

/**
 * A job's progress as the CLI's progress bar shows it: one bar per point, the bytes of that
 * point (the engine counts the job's bytes, and knows the point's total once "have?" is done).
 */
function jobProgress (onProgress: ProgressFn): (p: JobProgress) => void {
  let point = ''
  let base = 0
  return p => {
    if (p.point !== point) {
      point = p.point
      base = p.bytesSent
    }
    onProgress({
      phase: `replicate ${p.machine}, point ${p.pointIndex} of ${p.points}`,
      done: p.bytesSent - base,
      total: p.bytesToSend,
      unit: 'bytes',
      detail: p.point
    } satisfies Progress)
  }
}
