import { NotFoundError } from '../errors.ts'
import { AmbiguousNameError } from '../points/errors.ts'
import type { MachineRecord, MachineRef } from '../points/api.ts'
import type { RuleRecord } from '../rules/index.ts'

/** A machine a trigger is about: the one backed up, or the one whose point arrived. */
export type TriggerMachine = MachineRef & { cluster: string | null }

/**
 * True when a rule's machine name names `m`, with the grammar of `PointIndex.findMachine`:
 * `web01` names web01 of any tenant and origin; `x/web01` the one whose tenant or origin is x;
 * `/web01` this Core's own.
 */
export function namesMachine (ruleMachine: string, m: MachineRef): boolean {
  const slash = ruleMachine.lastIndexOf('/')
  if (slash < 0) return ruleMachine === m.machine
  const qualifier = ruleMachine.slice(0, slash)
  return ruleMachine.slice(slash + 1) === m.machine && (qualifier === m.tenant || qualifier === m.origin)
}

/**
 * The rules that send `m`: those naming it, and those naming another machine of its cluster (a
 * machine of a cluster brings its cluster). `findMachine` resolves a rule's machine as the
 * replication engine will; a rule whose machine is unknown or ambiguous here sends nothing of a
 * cluster.
 */
export async function rulesSending (rules: RuleRecord[], m: TriggerMachine, findMachine: (name: string) => Promise<MachineRecord>): Promise<RuleRecord[]> {
  const result: RuleRecord[] = []
  for (const rule of rules) {
    if (namesMachine(rule.machine, m)) {
      result.push(rule)
      continue
    }
    if (m.cluster == null) continue
    const named = await findMachine(rule.machine).catch((err: unknown) => {
      // a machine this Core does not know, or a name several match: the rule does not name it
      if (err instanceof NotFoundError || err instanceof AmbiguousNameError) return undefined
      throw err
    })
    if (named != null && named.cluster === m.cluster && named.tenant === m.tenant && named.origin === m.origin) result.push(rule)
  }
  return result
}
