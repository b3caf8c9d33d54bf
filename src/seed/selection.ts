import { InvalidInputError, NotFoundError, UsageError, UserError } from '../errors.ts'
import { AmbiguousNameError } from '../points/errors.ts'
import type { MachineRecord, PointRecord } from '../points/api.ts'
import type { PointIndex } from '../points/point-index.ts'
import type { RuleRecord, RuleStore } from '../rules/index.ts'
import { MAX_SEED_POINTS } from './constants.ts'

export interface SelectionOptions {
  /** machine names (`web01`, or `tenant/web01`) */
  machines?: string[]
  /** every machine on this Core */
  all?: boolean
  /** target peer id */
  to?: string
}

export interface SelectedMachine {
  machine: MachineRecord
  /** complete points to carry, oldest first */
  points: PointRecord[]
}

/** What a seed will carry, for whom, and which seed-drive rules wait for it. */
export interface SeedSelection {
  target: string | null
  /** sorted by machine name, tenant and origin; none is empty */
  machines: SelectedMachine[]
  rules: RuleRecord[]
  /** points left out: orphans here, or listed by a rule and gone */
  skipped: Array<{ point: string, machine: string, reason: string }>
}

/**
 * Chooses the points of a seed. With `machines` or `all`: every point of those machines (a
 * machine of a cluster brings its whole cluster, as in replication). With neither: the points
 * that outstanding seed-drive rules (to `to`, when given) left to a seed. The rules linked to
 * the seed are the seed-drive rules to the target whose machines are all on it.
 */
export async function selectPoints (points: PointIndex, rules: RuleStore, options: SelectionOptions): Promise<SeedSelection> {
  if (options.all === true && options.machines != null && options.machines.length > 0) {
    throw new UsageError('seed create: use --machines or --all, not both')
  }
  const selection = options.all === true || (options.machines != null && options.machines.length > 0)
    ? await byMachines(points, rules, options)
    : await byRules(points, rules, options.to)
  // A point held in two tenants (it reached this Core along two paths) goes on the seed once.
  const taken = new Set<string>()
  for (const m of selection.machines) m.points = m.points.filter(p => !taken.has(p.point) && taken.add(p.point) !== undefined)
  selection.machines = selection.machines.filter(m => m.points.length > 0)
  const count = taken.size
  if (count === 0) {
    const why = selection.skipped.length > 0 ? `: ${selection.skipped.length} orphan or missing points were left out` : ''
    throw new UserError(`nothing to put on a seed: the chosen machines have no complete recovery points${why}`)
  }
  if (count > MAX_SEED_POINTS) {
    throw new InvalidInputError(`a seed carries at most ${MAX_SEED_POINTS} points and ${count} were chosen: make several seeds, each with fewer machines`)
  }
  return selection
}

async function byMachines (points: PointIndex, rules: RuleStore, options: SelectionOptions): Promise<SeedSelection> {
  const named = options.all === true ? await points.machines() : await Promise.all(unique(options.machines ?? []).map(async name => await points.findMachine(name)))
  const selection: SeedSelection = { target: options.to ?? null, machines: [], rules: [], skipped: [] }
  const chosen = new Map<string, MachineRecord>()
  for (const machine of named) for (const member of await withCluster(points, machine)) chosen.set(machineKey(member), member)
  for (const machine of sortMachines([...chosen.values()])) addMachine(selection, machine, await points.points(machine))
  if (options.to != null) {
    for (const rule of await rules.list()) {
      if (!rule.seedDrive || rule.to !== options.to) continue
      const covered = await ruleMachines(points, rule)
      if (covered.length > 0 && covered.every(m => chosen.has(machineKey(m)))) selection.rules.push(rule)
    }
  }
  return selection
}

async function byRules (points: PointIndex, rules: RuleStore, to: string | undefined): Promise<SeedSelection> {
  const waiting = (await rules.list()).filter(r => r.seedDrive && r.seedState === 'outstanding' && (to == null || r.to === to))
  if (waiting.length === 0) {
    throw new UserError(`no seed-drive rule${to == null ? '' : ` to ${to}`} waits for a seed: name the machines to put on it with --machines or --all`)
  }
  const targets = [...new Set(waiting.map(r => r.to))]
  if (targets.length > 1) {
    throw new InvalidInputError(`outstanding seed-drive rules send to ${targets.length} Cores (${targets.join(', ')}): choose one with --to`)
  }
  const selection: SeedSelection = { target: targets[0], machines: [], rules: waiting, skipped: [] }
  const wanted = new Set<string>()
  const machines = new Map<string, MachineRecord>()
  for (const rule of waiting) {
    for (const id of rule.seedPoints) wanted.add(id)
    for (const machine of await ruleMachines(points, rule)) machines.set(machineKey(machine), machine)
  }
  const found = new Set<string>()
  for (const machine of sortMachines([...machines.values()])) {
    const records = (await points.points(machine)).filter(r => wanted.has(r.point))
    for (const r of records) found.add(r.point)
    addMachine(selection, machine, records)
  }
  for (const id of wanted) {
    if (!found.has(id)) selection.skipped.push({ point: id, machine: waiting.find(r => r.seedPoints.includes(id))!.machine, reason: 'the point is no longer on this Core' })
  }
  return selection
}

function addMachine (selection: SeedSelection, machine: MachineRecord, records: PointRecord[]): void {
  const complete: PointRecord[] = []
  for (const record of records) {
    if (record.complete) complete.push(record)
    else selection.skipped.push({ point: record.point, machine: record.machine, reason: `it is an orphan on this Core (${record.missing} blocks missing)` })
  }
  if (complete.length > 0) selection.machines.push({ machine, points: complete })
}

/**
 * The machines a rule covers: the one it names and, for a machine of a cluster, every machine
 * of the cluster (as replication plans it). None when the machine has no points here.
 */
async function ruleMachines (points: PointIndex, rule: RuleRecord): Promise<MachineRecord[]> {
  let machine: MachineRecord
  try {
    machine = await points.findMachine(rule.machine)
  } catch (err) {
    if (err instanceof NotFoundError || err instanceof AmbiguousNameError) return [] // unknown (no points left) or ambiguous
    throw err
  }
  return await withCluster(points, machine)
}

/** A machine and the other machines of its cluster (same tenant and origin). */
async function withCluster (points: PointIndex, machine: MachineRecord): Promise<MachineRecord[]> {
  if (machine.cluster === null) return [machine]
  return (await points.machines({ tenant: machine.tenant })).filter(m => m.origin === machine.origin && m.cluster === machine.cluster)
}

function sortMachines (machines: MachineRecord[]): MachineRecord[] {
  return [...machines].sort((a, b) => cmp(a.machine, b.machine) || cmp(a.tenant, b.tenant) || cmp(a.origin, b.origin))
}

function machineKey (m: Pick<MachineRecord, 'tenant' | 'origin' | 'machine'>): string {
  return `${m.tenant}\u0000${m.origin}\u0000${m.machine}`
}

function unique (values: string[]): string[] {
  return [...new Set(values)]
}

function cmp (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
