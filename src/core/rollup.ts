import type { EventSink } from '../events/api.ts'
import { emitRetentionEvent } from '../events/retention.ts'
import type { MachineRef } from '../points/api.ts'
import type { Retention } from '../retention/index.ts'

/**
 * The rollup after a backup or a received point (docs/retention.md): the machine's standing
 * policy applied. What it removed is an event of its own; a rollup that fails does not fail
 * the backup or the transfer that triggered it (their points are in): it is an error event,
 * and the next rollup tries again.
 */
export async function rollupQuietly (retention: Pick<Retention, 'rollup'>, events: EventSink, machine: MachineRef): Promise<void> {
  try {
    await retention.rollup(machine)
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err)
    emitRetentionEvent(events, 'retention.failed', `the rollup of ${machine.tenant === '' ? machine.machine : `${machine.tenant}/${machine.machine}`} failed: ${error}`, {
      machine: machine.machine, tenant: machine.tenant, origin: machine.origin, error
    }, 'error')
  }
}

/** The rollup of every machine (before a scheduled prune): one machine's failure is its event, the others go on. */
export async function rollupAllQuietly (retention: Pick<Retention, 'rollup'>, points: { machines: () => Promise<MachineRef[]> }, events: EventSink): Promise<void> {
  for (const machine of await points.machines()) await rollupQuietly(retention, events, machine)
}
