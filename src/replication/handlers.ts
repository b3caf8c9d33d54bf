import type { Progress, ProgressFn } from '../api/operations.ts'
import { NotFoundError, UsageError, UserError } from '../errors.ts'
import type { PeerRegistry } from '../peers/index.ts'
import { isPeerId } from '../peers/record.ts'
import type { PointIndex } from '../points/index.ts'
import type { RepositoryFiles } from '../repo/index.ts'
import { whyCannotSend } from '../scheduler/index.ts'
import type { JobProgress, ReplicationScheduler, RuleActivity } from '../scheduler/index.ts'
import type { FetchResult, JobResult } from './api.ts'
import { checkRuleMachine, checkSchedule, checkWindow, parseRate, RuleStore } from '../rules/index.ts'
import type { RuleRecord } from '../rules/index.ts'

/** What the operations need of the replication engine (`ReplicationEngine`, when the Core runs). */
export interface ReplicationService {
  pointsBehind (rule: RuleRecord): Promise<number>
  deleteRemote (machine: string, to: string): Promise<void>
  fetch (options: { machine: string, from: string, point?: string, onProgress?: ProgressFn }): Promise<FetchResult>
}

/** The parts of a Core the replication operations use; the network ones exist while it runs. */
export interface ReplicationCoreParts {
  readonly files: Pick<RepositoryFiles, 'db' | 'peerId'>
  readonly points: PointIndex
  readonly peers: PeerRegistry
  readonly replication?: ReplicationService
  readonly scheduler?: ReplicationScheduler
}

/** One line of `drcore replication list --json` (the first eight fields are the contract). */
export interface RuleRow {
  machine: string
  /** target peer id */
  to: string
  /** `idle`, `running`, `paused` or `error` */
  state: 'idle' | 'running' | 'paused' | 'error'
  schedule: string
  /** newest point of the rule's machines the target holds complete, as of the last job */
  lastPoint: string | null
  /** points the target lacks; null while the Core is not running */
  pointsBehind: number | null
  /** block bytes sent by every job of the rule */
  bytesSent: number
  error: string | null
  toName: string | null
  window: string | null
  paused: boolean
  seedDrive: boolean
  seedState: RuleRecord['seedState']
  /** bytes per second, or null */
  limit: number | null
  createdAt: string
  lastRunAt: string | null
  lastSuccessAt: string | null
  /** the running job's progress, with its start and its rate so far (bytes per second) */
  job: (JobProgress & { machine: string, to: string, startedAt: string, rate: number }) | null
  /** a trigger waits for the window to open at this time */
  waitingForWindow: string | null
  retryAt: string | null
  nextRunAt: string | null
}

type Handler = (input: any, onProgress?: ProgressFn) => Promise<unknown>

/**
 * The replication operations (ruleAdd, rules, rulePause, ruleResume, ruleNow, ruleRemove, fetch
 * in api/operations.ts). Rules can be added, listed, paused, resumed and removed without the
 * daemon (they are records; jobs run when it starts); `now`, `fetch` and `--delete-remote` need
 * the running Core.
 */
export function replicationHandlers (core: ReplicationCoreParts): Record<'ruleAdd' | 'rules' | 'rulePause' | 'ruleResume' | 'ruleNow' | 'ruleRemove' | 'fetch', Handler> {
  const rules = new RuleStore(core.files.db)
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
    const activity: RuleActivity | undefined = core.scheduler?.activity(rule.machine, rule.to)
    const blocked = whyCannotSend(core.peers, rule.to)
    const state: RuleRow['state'] = rule.paused
      ? 'paused'
      : activity?.running === true ? 'running' : blocked != null || rule.state === 'error' ? 'error' : 'idle'
    return {
      machine: rule.machine,
      to: rule.to,
      state,
      schedule: rule.schedule,
      lastPoint: rule.lastPoint,
      pointsBehind: core.replication != null ? await core.replication.pointsBehind(rule) : null,
      bytesSent: rule.bytesSent + (activity?.progress?.bytesSent ?? 0),
      error: state === 'error' ? blocked ?? rule.error : null,
      toName: core.peers.get(rule.to)?.name ?? null,
      window: rule.window,
      paused: rule.paused,
      seedDrive: rule.seedDrive,
      seedState: rule.seedState,
      limit: rule.limit,
      createdAt: rule.createdAt,
      lastRunAt: rule.lastRunAt,
      lastSuccessAt: rule.lastSuccessAt,
      job: activity?.progress != null && activity.startedAt != null ? jobRow(rule, activity.progress, activity.startedAt) : null,
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
      const seedDrive = input.seedDrive === true
      const seedPoints = seedDrive ? await seedPointsOf(machine) : []
      const rule = await rules.add({ machine, to, schedule, window, paused: input.paused === true, seedDrive, seedPoints, limit })
      core.scheduler?.added(rule)
      return await row(rule)
    },

    rules: async () => await Promise.all((await rules.list()).map(row)),

    rulePause: async input => {
      const to = peerOf(input.to, '--to')
      await ruleOf(input.machine, to)
      const rule = await rules.update(input.machine, to, r => { r.paused = true })
      await core.scheduler?.paused(rule.machine, rule.to)
      return await row(await rules.get(rule.machine, rule.to))
    },

    ruleResume: async input => {
      const to = peerOf(input.to, '--to')
      await ruleOf(input.machine, to)
      const rule = await rules.update(input.machine, to, r => { r.paused = false })
      core.scheduler?.resumed(rule)
      return await row(rule)
    },

    ruleNow: async (input, onProgress) => {
      const to = peerOf(input.to, '--to')
      const rule = await ruleOf(input.machine, to)
      if (core.scheduler == null) throw new UserError('replication now needs the running Core (drcore start)')
      const { outcome } = await core.scheduler.now(rule.machine, rule.to, onProgress == null ? undefined : jobProgress(onProgress))
      if (input.wait === false) {
        outcome.catch(() => {}) // the job's end is recorded on the rule and in the event log
        return { machine: rule.machine, to: rule.to, toName: label(rule.to), started: true }
      }
      const result: JobResult = await outcome
      return { machine: rule.machine, to: rule.to, toName: label(rule.to), started: true, ...result }
    },

    ruleRemove: async input => {
      const to = peerOf(input.to, '--to')
      const rule = await ruleOf(input.machine, to)
      const deleteRemote = input.deleteRemote === true
      if (deleteRemote && core.replication == null) {
        throw new UserError('--delete-remote needs the running Core, to tell the target (drcore start); or remove the rule and keep the remote points')
      }
      await core.scheduler?.removed(rule.machine, rule.to)
      if (deleteRemote) {
        try {
          await core.replication!.deleteRemote(rule.machine, rule.to)
        } catch (err) {
          core.scheduler?.added(rule) // the rule stays: try again, or remove it without --delete-remote
          throw err
        }
      }
      await rules.remove(rule.machine, rule.to)
      return { machine: rule.machine, to: rule.to, toName: label(rule.to), removed: true, deletedRemote: deleteRemote }
    },

    fetch: async (input, onProgress) => {
      const from = peerOf(input.from, '--from')
      if (core.replication == null) throw new UserError('fetch needs the running Core (drcore start)')
      return await core.replication.fetch({ machine: input.machine, from, point: input.point, onProgress })
    }
  }
}

function jobRow (rule: RuleRecord, progress: JobProgress, startedAt: string): NonNullable<RuleRow['job']> {
  const seconds = (Date.now() - Date.parse(startedAt)) / 1000
  return { ...progress, machine: rule.machine, to: rule.to, startedAt, rate: seconds > 0 ? Math.round(progress.bytesSent / seconds) : 0 }
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
