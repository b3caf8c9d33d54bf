import { NotFoundError } from '../errors.ts'
import type { MachineRecord, PointRecord } from '../points/api.ts'
import type { PointIndex } from '../points/point-index.ts'
import type { RuleRecord } from './record.ts'

/**
 * Why a point of a rule's machines is or is not offered:
 * - `send`: offered (unless the target already holds it);
 * - `seed`: waits for the rule's outstanding seed drive;
 * - `incomplete`: an orphan on this Core, offered once it is complete;
 * - `target`: the target took it, or sent it here: never offered back.
 */
export type PlanReason = 'send' | 'seed' | 'incomplete' | 'target'

export interface PlannedPoint {
  record: PointRecord
  machine: MachineRecord
  reason: PlanReason
}

export interface RulePlan {
  /** the rule's machine and the other machines of its cluster, as this Core holds them */
  machines: MachineRecord[]
  /** their points, oldest first (by creation time, then sequence) */
  points: PlannedPoint[]
}

/**
 * What a rule covers on this Core right now. A machine that has not arrived yet is an empty
 * plan, not an error: its rule waits for it. A machine of a cluster brings every machine of the
 * cluster (same tenant and origin).
 */
export async function planRule (points: PointIndex, rule: Pick<RuleRecord, 'machine' | 'to' | 'seedDrive' | 'seedState' | 'seedPoints'>): Promise<RulePlan> {
  let machine: MachineRecord
  try {
    machine = await points.findMachine(rule.machine)
  } catch (err) {
    if (err instanceof NotFoundError) return { machines: [], points: [] }
    throw err
  }
  const machines = machine.cluster === null
    ? [machine]
    : (await points.machines({ tenant: machine.tenant })).filter(m => m.cluster === machine.cluster && m.origin === machine.origin)
  const seedWaiting = rule.seedDrive && rule.seedState === 'outstanding' ? new Set(rule.seedPoints) : new Set<string>()
  const planned: PlannedPoint[] = []
  for (const m of machines) {
    for (const record of await points.points(m)) {
      planned.push({ record, machine: m, reason: await reasonFor(points, record, rule.to, seedWaiting) })
    }
  }
  planned.sort((a, b) => Date.parse(a.record.createdAt) - Date.parse(b.record.createdAt) || a.record.seq - b.record.seq)
  return { machines, points: planned }
}

async function reasonFor (points: PointIndex, record: PointRecord, to: string, seedWaiting: Set<string>): Promise<PlanReason> {
  if (record.origin === to) return 'target'
  // any tenant's copy may have come from the target (a point that reached this Core by two paths)
  if ((await points.records(record.point)).some(r => r.receivedFrom === to)) return 'target'
  if (seedWaiting.has(record.point)) return 'seed'
  if (!record.complete) return 'incomplete'
  return 'send'
}
