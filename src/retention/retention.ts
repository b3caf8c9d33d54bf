import type { PeerRef } from '../api/peer-ref.ts'
import { KeyedSerialQueue } from '../common/keyed-queue.ts'
import type { EventSink } from '../events/api.ts'
import { emitRetentionEvent } from '../events/retention.ts'
import type { MachineRecord, MachineRef, PointRecord } from '../points/api.ts'
import type { PointIndex } from '../points/point-index.ts'
import type { TenantBlocks, TenantSettings } from '../tenants/index.ts'
import { lockedPoints, retentionTime } from './lock.ts'
import type { RetentionPolicies } from './policies.ts'
import { applyPolicy } from './policy.ts'
import { describePolicy, policyFromInput, policyOf } from './view.ts'
import type { PolicyView } from './view.ts'

export interface RetentionDeps {
  points: PointIndex
  policies: RetentionPolicies
  /** each tenant's retention lock */
  settings: Pick<TenantSettings, 'get'>
  /** a forgotten point's cached completeness in its tenant goes with it */
  blocks: Pick<TenantBlocks, 'forgetPoint' | 'markForgotten'>
  events: EventSink
  /** the clock (tests move it) */
  now?: () => number
  /** the zone calendar buckets are cut in (default: this process's) */
  timeZone?: string
}

/** One kept point and why: the policy's rules (`last`, `daily`, `within` ...) and `locked`. */
export interface KeptPoint {
  point: string
  reasons: string[]
}

/** What a policy keeps of one machine's points, and what it removes. */
export interface RetentionPlan {
  machine: MachineRef
  policy: PolicyView
  /** newest first (by retention time) */
  kept: KeptPoint[]
  /** newest first */
  removed: string[]
  /** the tenant's retention lock as set (`30d`), null when none */
  retentionLock: string | null
  /** kept points the tenant's retention lock keeps */
  locked: number
  /** when the lock keeps points: the time the last of them leaves it */
  lockedUntil: string | null
}

/** `drcore forget --json` */
export interface ForgetResult {
  machine: string
  tenant: string
  origin: string
  policy: PolicyView
  dryRun: boolean
  kept: string[]
  removed: string[]
  /** per kept point, why it stays */
  reasons: Record<string, string[]>
  locked: number
}

/** One machine in `drcore retention show --json`. */
export interface RetentionRow {
  machine: string
  tenant: string
  /** the Core that backs the machine up */
  origin: PeerRef
  /** the policy its rollup applies, null when none */
  policy: PolicyView | null
  /** `machine`: its own; `default`: the default; null: none (every point is kept) */
  policySource: 'machine' | 'default' | null
  points: number
  /** what its next rollup would remove, as of now */
  wouldRemove: string[]
  /** its points the tenant's retention lock keeps, and until when */
  locked: number
  lockedUntil: string | null
}

/** `drcore retention show --json` */
export interface RetentionShow {
  default: PolicyView | null
  machines: RetentionRow[]
}

/**
 * Retention on this Core (docs/retention.md): which points a policy keeps, `forget`, and the
 * rollup that applies each machine's standing policy after every backup and every received
 * point. Every Core decides for itself: a target keeps by its own policies, whatever its
 * sources keep, and ages points by its own clock (`retentionTime`).
 *
 * A tenant's retention lock overrides every policy: its points received less than the lock ago
 * stay, with the reason `locked`. Forgetting removes point records only (in one tenant); their
 * blocks stay until garbage collection. A child whose parent was forgotten stays whole: its
 * closure is its own.
 */
export class Retention {
  readonly #deps: RetentionDeps
  /** one decision at a time per machine: a rollup and a forget must not remove the same points twice */
  readonly #machines = new KeyedSerialQueue()

  constructor (deps: RetentionDeps) {
    this.#deps = deps
  }

  /** What `policy` keeps of the machine's points now; removes nothing. */
  async plan (machine: MachineRef, view: PolicyView): Promise<RetentionPlan> {
    const records = await this.#deps.points.points(machine)
    return await this.#decide(machine, records, view)
  }

  /**
   * `drcore forget`: removes the machine's points that `view` does not keep (or, `dryRun`,
   * says which it would). An empty policy is refused.
   */
  async forget (machineName: string, view: PolicyView, options: { dryRun?: boolean } = {}): Promise<ForgetResult> {
    policyFromInput(view, 'forget')
    const machine = await this.#deps.points.findMachine(machineName)
    const plan = await this.#machines.run(keyOf(machine), async () => {
      const decided = await this.plan(machine, view)
      if (options.dryRun !== true) await this.#remove(machine, decided.removed)
      return decided
    })
    if (options.dryRun !== true && plan.removed.length > 0) {
      emitRetentionEvent(this.#deps.events, 'retention.forget', `forget removed ${plan.removed.length} of ${plan.removed.length + plan.kept.length} points of ${label(machine)} (${describePolicy(plan.policy)})${lockNote(plan)}`, {
        machine: machine.machine, tenant: machine.tenant, origin: machine.origin, policy: plan.policy, removed: plan.removed, kept: plan.kept.length, locked: plan.locked
      })
    }
    return {
      machine: machine.machine,
      tenant: machine.tenant,
      origin: machine.origin,
      policy: plan.policy,
      dryRun: options.dryRun === true,
      kept: plan.kept.map(k => k.point),
      removed: plan.removed,
      reasons: Object.fromEntries(plan.kept.map(k => [k.point, k.reasons])),
      locked: plan.locked
    }
  }

  /**
   * The machine's standing policy applied (its own, else the default): the rollup after a
   * backup or a received point. Undefined when no policy applies. An event says what it removed.
   */
  async rollup (machine: MachineRef): Promise<RetentionPlan | undefined> {
    return await this.#machines.run(keyOf(machine), async () => {
      const effective = await this.#deps.policies.effective(machine)
      if (effective === undefined) return undefined
      const plan = await this.plan(machine, effective.record.policy)
      if (plan.removed.length === 0) return plan
      await this.#remove(machine, plan.removed)
      emitRetentionEvent(this.#deps.events, 'retention.rollup', `rollup of ${label(machine)} removed ${plan.removed.length} of ${plan.removed.length + plan.kept.length} points (${effective.from === 'default' ? 'default policy, ' : ''}${describePolicy(plan.policy)})${lockNote(plan)}`, {
        machine: machine.machine, tenant: machine.tenant, origin: machine.origin, policy: plan.policy, removed: plan.removed, kept: plan.kept.length, locked: plan.locked
      })
      return plan
    })
  }

  /** The rollup of every machine (`drcore retention apply`, and a Core's daily run). */
  async rollupAll (): Promise<RetentionPlan[]> {
    const plans: RetentionPlan[] = []
    for (const machine of await this.#deps.points.machines()) {
      const plan = await this.rollup(machine)
      if (plan !== undefined) plans.push(plan)
    }
    return plans
  }

  /** What the next rollup of a machine would do now (nothing is removed), and under which policy. */
  async preview (machine: MachineRef): Promise<{ plan: RetentionPlan, from: 'machine' | 'default' } | undefined> {
    const effective = await this.#deps.policies.effective(machine)
    if (effective === undefined) return undefined
    return { plan: await this.plan(machine, effective.record.policy), from: effective.from }
  }

  async #decide (machine: MachineRef, records: PointRecord[], view: PolicyView): Promise<RetentionPlan> {
    const now = this.#deps.now?.() ?? Date.now()
    const decision = applyPolicy(records, r => retentionTime(r, now), policyOf(view), { now, timeZone: this.#deps.timeZone })
    const lock = machine.tenant === '' ? null : (await this.#deps.settings.get(machine.tenant))?.retentionLock ?? null
    const locked = lockedPoints(records, lock, now)
    const kept: KeptPoint[] = decision.keep.map(({ item, reasons }) => ({ point: item.point, reasons: locked.points.has(item.point) ? [...reasons, 'locked'] : reasons }))
    const removed: string[] = []
    for (const record of decision.remove) {
      if (locked.points.has(record.point)) kept.push({ point: record.point, reasons: ['locked'] })
      else removed.push(record.point)
    }
    const time = new Map(records.map(r => [r.point, retentionTime(r, now)]))
    kept.sort((a, b) => time.get(b.point)! - time.get(a.point)!)
    return { machine: refOf(machine), policy: view, kept, removed, retentionLock: lock, locked: locked.points.size, lockedUntil: locked.until }
  }

  async #remove (machine: MachineRef, ids: string[]): Promise<void> {
    for (const id of ids) {
      await this.#deps.points.remove(id, machine.tenant)
      if (machine.tenant === '') continue
      await this.#deps.blocks.forgetPoint(machine.tenant, id)
      // a target's decision: its source offering the point again is declined (docs/retention.md)
      await this.#deps.blocks.markForgotten(machine.tenant, id)
    }
  }
}

function keyOf (m: MachineRef): string {
  return [m.tenant, m.origin, m.machine].join('\x00')
}

function refOf (m: MachineRef | MachineRecord): MachineRef {
  return { tenant: m.tenant, origin: m.origin, machine: m.machine }
}

function label (m: MachineRef): string {
  return m.tenant === '' ? m.machine : `${m.tenant}/${m.machine}`
}

function lockNote (plan: RetentionPlan): string {
  return plan.locked === 0 ? '' : `; tenant ${plan.machine.tenant}'s retention lock (${plan.retentionLock}) keeps ${plan.locked} points received since, until ${plan.lockedUntil}`
}
