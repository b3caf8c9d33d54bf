import type { OperationInput, Handlers } from '../../api/handler.ts'
import type { PeerNamer, PeerRef } from '../../api/peer-ref.ts'
import { NotFoundError, UsageError } from '../../errors.ts'
import type { EventSink } from '../../events/api.ts'
import { emitRetentionEvent } from '../../events/retention.ts'
import type { PeerRegistry } from '../../peers/index.ts'
import { checkName } from '../../peers/record.ts'
import type { MachineRef } from '../../points/api.ts'
import { isMachineName } from '../../points/manifest.ts'
import type { PointIndex } from '../../points/index.ts'
import type { RepositoryFiles } from '../../repo/index.ts'
import { describePolicy, formatDuration, lockedPoints, parseDuration, policyFromInput, viewOf } from '../../retention/index.ts'
import type { ForgetResult, PolicyView, Retention, RetentionPlan, RetentionPolicies, RetentionRow, RetentionShow } from '../../retention/index.ts'
import type { TenantBlocks, TenantRecord, TenantRow, TenantSettings } from '../../tenants/index.ts'
import { formatBytes, parseSize } from '../../common/sizes.ts'

export type { RetentionRow, RetentionShow } from '../../retention/index.ts'
export type { TenantRow } from '../../tenants/index.ts'

/** The parts of a Core the retention and tenant operations use. */
export interface RetentionParts {
  readonly files: Pick<RepositoryFiles, 'peerId'>
  readonly points: PointIndex
  readonly peers: Pick<PeerRegistry, 'list'>
  readonly retention: Retention
  readonly policies: RetentionPolicies
  readonly tenants: Pick<TenantBlocks, 'usage'>
  readonly tenantSettings: TenantSettings
  readonly events: EventSink
  /** names peers in results (api/peer-ref.ts) */
  readonly name: PeerNamer
}

/** `forget`, `retention show/set/clear/apply`, `tenant list/set` (docs/retention.md). */
export function retentionHandlers (core: RetentionParts) {
  const self = core.files.peerId.toString()

  /** A machine's chain; a name not seen yet is this Core's own machine of that name (a policy before its first backup). */
  const machineRef = async (name: string): Promise<MachineRef> => {
    try {
      const m = await core.points.findMachine(name)
      return { tenant: m.tenant, origin: m.origin, machine: m.machine }
    } catch (err) {
      if (!(err instanceof NotFoundError) || name.includes('/') || !isMachineName(name)) throw err
      return { tenant: '', origin: self, machine: name }
    }
  }

  /** `<machine>` or `--default`, exactly one. */
  const target = async (input: { machine?: string, default?: boolean }, what: string): Promise<MachineRef | null> => {
    if (input.default === true && input.machine !== undefined) throw new UsageError(`${what}: name a machine or give --default, not both`)
    if (input.default === true) return null
    if (input.machine === undefined) throw new UsageError(`${what}: name a machine, or give --default for every machine without a policy of its own`)
    return await machineRef(input.machine)
  }

  const retentionRow = async (machine: MachineRef, points: number): Promise<RetentionRow> => {
    const preview = await core.retention.preview(machine)
    const lock = machine.tenant === '' ? null : (await core.tenantSettings.get(machine.tenant))?.retentionLock ?? null
    const locked = preview?.plan ?? lockOnly(lockedPoints(await core.points.points(machine), lock, Date.now()))
    return {
      machine: machine.machine,
      tenant: machine.tenant,
      origin: core.name(machine.origin),
      policy: preview?.plan.policy ?? null,
      policySource: preview?.from ?? null,
      points,
      wouldRemove: preview?.plan.removed ?? [],
      locked: locked.locked,
      lockedUntil: locked.lockedUntil
    }
  }

  const tenantRows = async (): Promise<TenantRow[]> => {
    const peers = core.peers.list()
    const machines = await core.points.machines()
    const settings = new Map((await core.tenantSettings.list()).map(r => [r.tenant, r]))
    const names = new Set<string>([...settings.keys(), ...machines.map(m => m.tenant), ...peers.map(p => p.tenant ?? '')])
    names.delete('')
    const rows: TenantRow[] = []
    for (const tenant of [...names].sort()) {
      const record = settings.get(tenant)
      const own = machines.filter(m => m.tenant === tenant)
      const usage = await core.tenants.usage(tenant)
      const records = (await Promise.all(own.map(async m => await core.points.points(m)))).flat()
      const locked = lockedPoints(records, record?.retentionLock ?? null, Date.now())
      rows.push({
        tenant,
        peers: peers.filter(p => p.tenant === tenant && p.state === 'approved').map(p => ({ peerId: p.peerId, name: p.name })),
        points: own.reduce((n, m) => n + m.points, 0),
        storedBytes: usage.bytes,
        quota: record?.quota ?? null,
        retentionLock: record?.retentionLock ?? null,
        blocks: usage.blocks,
        lockedPoints: locked.points.size,
        lockedUntil: locked.until
      })
    }
    return rows
  }

  return {
    forget: async (input): Promise<Named<ForgetResult>> => {
      const result = await core.retention.forget(input.machine, keepOf(input), { dryRun: input.dryRun === true })
      return { ...result, origin: core.name(result.origin) }
    },

    retentionShow: async (): Promise<RetentionShow> => {
      const machines = await core.points.machines()
      const rows = await Promise.all(machines.map(async m => await retentionRow(m, m.points)))
      // a policy set for a machine before its first point (or after its last) is listed too
      for (const record of await core.policies.machines()) {
        const ref = { tenant: record.tenant ?? '', origin: record.origin ?? self, machine: record.machine ?? '' }
        if (!rows.some(r => r.tenant === ref.tenant && r.origin.peerId === ref.origin && r.machine === ref.machine)) rows.push(await retentionRow(ref, 0))
      }
      return { default: (await core.policies.get(null))?.policy ?? null, machines: rows }
    },

    retentionSet: async (input) => {
      const ref = await target(input, 'retention set')
      const view = viewOf(policyFromInput(keepOf(input), 'retention set'))
      await core.policies.set(ref, view)
      emitRetentionEvent(core.events, 'retention.policy-set', `retention policy of ${ref === null ? 'every machine without its own (the default)' : label(ref)}: ${describePolicy(view)}`, {
        machine: ref?.machine ?? null, tenant: ref?.tenant ?? null, origin: ref?.origin ?? null, policy: view
      })
      return { machine: ref?.machine ?? null, tenant: ref?.tenant ?? null, origin: ref === null ? null : core.name(ref.origin), default: ref === null, policy: view }
    },

    retentionClear: async (input) => {
      const ref = await target(input, 'retention clear')
      if (!await core.policies.clear(ref)) {
        throw new NotFoundError(ref === null ? 'there is no default retention policy' : `${label(ref)} has no retention policy of its own (drcore retention show)`)
      }
      emitRetentionEvent(core.events, 'retention.policy-set', `retention policy of ${ref === null ? 'every machine without its own (the default)' : label(ref)} removed`, {
        machine: ref?.machine ?? null, tenant: ref?.tenant ?? null, origin: ref?.origin ?? null, policy: null
      })
      return { machine: ref?.machine ?? null, tenant: ref?.tenant ?? null, origin: ref === null ? null : core.name(ref.origin), default: ref === null, cleared: true }
    },

    retentionApply: async () => (await core.retention.rollupAll()).map(plan => ({ ...applied(plan), origin: core.name(plan.machine.origin) })),

    tenants: async (): Promise<TenantRow[]> => await tenantRows(),

    tenantSet: async (input): Promise<TenantRow> => {
      const tenant = checkName(input.tenant, 'tenant')
      if (input.retentionLock === undefined && input.quota === undefined) throw new UsageError('tenant set: give --retention-lock DURATION|none or --quota SIZE|none')
      const changes: { quota?: number | null, retentionLock?: string | null } = {}
      if (input.retentionLock !== undefined) changes.retentionLock = input.retentionLock === 'none' ? null : lockOf(input.retentionLock)
      if (input.quota !== undefined) changes.quota = input.quota === 'none' ? null : quotaOf(input.quota)
      const { previous, record } = await core.tenantSettings.set(tenant, changes)
      emitRetentionEvent(core.events, 'tenant.changed', `tenant ${tenant}: ${settingsText(record)}`, {
        tenant, quota: record.quota, retentionLock: record.retentionLock, previousQuota: previous?.quota ?? null, previousRetentionLock: previous?.retentionLock ?? null
      })
      return (await tenantRows()).find(r => r.tenant === tenant)!
    }
  } satisfies Pick<Handlers, 'forget' | 'retentionShow' | 'retentionSet' | 'retentionClear' | 'retentionApply' | 'tenants' | 'tenantSet'>
}

/** The `--keep-*` options given. */
function keepOf (input: Partial<OperationInput<'forget'>>): PolicyView {
  const view: PolicyView = {}
  for (const key of ['keepLast', 'keepHourly', 'keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly'] as const) if (input[key] !== undefined) view[key] = input[key]
  if (input.keepWithin !== undefined) view.keepWithin = input.keepWithin
  return view
}

function quotaOf (text: string): number {
  const bytes = Math.floor(parseSize(text) ?? 0)
  if (bytes < 1) throw new UsageError(`--quota ${text}: not a size (use e.g. 50G, 700M; none removes the quota)`)
  return bytes
}

function lockOf (text: string): string {
  const duration = parseDuration(text, '--retention-lock duration')
  const normal = formatDuration(duration)
  if (normal === '0h') throw new UsageError(`--retention-lock ${text}: give a duration longer than zero (such as 30d), or none to lift the lock`)
  return normal
}

function applied (plan: RetentionPlan): { machine: string, tenant: string, origin: string, policy: PolicyView, kept: number, removed: string[], locked: number } {
  return { ...plan.machine, policy: plan.policy, kept: plan.kept.length, removed: plan.removed, locked: plan.locked }
}

/** A result with its `origin` peer named as every result names peers. */
type Named<T extends { origin: string }> = Omit<T, 'origin'> & { origin: PeerRef }

function lockOnly (locked: { points: Set<string>, until: string | null }): { locked: number, lockedUntil: string | null } {
  return { locked: locked.points.size, lockedUntil: locked.until }
}

function label (ref: MachineRef): string {
  return ref.tenant === '' ? ref.machine : `${ref.tenant}/${ref.machine}`
}

function settingsText (record: TenantRecord): string {
  return `quota ${record.quota === null ? 'none' : formatBytes(record.quota)}, retention lock ${record.retentionLock ?? 'none'}`
}
