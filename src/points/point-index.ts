import { KeyedSerialQueue } from '../common/keyed-queue.ts'
import { KEY_SEP, prefixRange } from '../common/keys.ts'
import { CorruptBlockError, MissingBlockError, NotFoundError } from '../errors.ts'
import { AmbiguousNameError } from './errors.ts'
import { jsonSublevel } from '../store/sublevels.ts'
import type { JsonSublevel, RootDb } from '../store/sublevels.ts'
import type { BlockStore, IndexOp } from '../store/api.ts'
import { loadManifest } from './manifest.ts'
import { missingBlocks } from './closure.ts'
import { machineRow, pointRow } from './rows.ts'
import type { MachineRow, PointRow } from './rows.ts'
import type { PeerNamer } from '../api/peer-ref.ts'
import type { MachineRecord, MachineRef, PointRecord, SignedPoint } from './api.ts'

/** Sublevel names (also the `sublevel` of the `IndexOp`s this index emits). */
export const POINTS_SUBLEVEL = 'points'
export const CHAINS_SUBLEVEL = 'chains'
export const MACHINES_SUBLEVEL = 'machines'

type MachineInfo = Pick<MachineRecord, 'machine' | 'tenant' | 'origin' | 'cluster'>

/**
 * The recovery points a Core knows, in three JSON sublevels of the repository's LevelDB:
 *   points    point id NUL tenant -> PointRecord
 *   chains    tenant NUL origin NUL machine NUL seq(12 digits) NUL id -> id   (a machine's points by seq)
 *   machines  tenant NUL origin NUL machine -> {machine, tenant, origin, cluster}
 * Point counts and the latest point are read from `chains`, so recording a point is a set of
 * blind puts that can ride in a block writer's final batch (`recordOps`).
 *
 * One point may be held in several tenants (a point forwarded along two paths reaches a Core
 * from two peers); each tenant has its own record. Completeness is a property of the shared
 * blocks, so it is updated in every record of the point at once.
 */
export class PointIndex {
  /**
   * One writer of each machine's chain in this Core's own tenant at a time: a backup reads the
   * latest point and records the next seq, so two at once would take the same seq.
   */
  readonly ownChainWrites = new KeyedSerialQueue()
  readonly #points: JsonSublevel<PointRecord>
  readonly #chains: JsonSublevel<string>
  readonly #machines: JsonSublevel<MachineInfo>

  constructor (db: RootDb) {
    this.#points = jsonSublevel<PointRecord>(db, POINTS_SUBLEVEL)
    this.#chains = jsonSublevel<string>(db, CHAINS_SUBLEVEL)
    this.#machines = jsonSublevel<MachineInfo>(db, MACHINES_SUBLEVEL)
  }

  /** The writes that record a point; commit them with its blocks (`BlockWriter.commit(ops)`). */
  recordOps (record: PointRecord): IndexOp[] {
    const ref = refOf(record)
    const machine: MachineInfo = { machine: record.machine, tenant: record.tenant, origin: record.origin, cluster: record.cluster }
    return [
      { type: 'put', sublevel: POINTS_SUBLEVEL, key: pointKey(record.point, record.tenant), value: record },
      { type: 'put', sublevel: CHAINS_SUBLEVEL, key: chainKey(ref, record.seq, record.point), value: record.point },
      { type: 'put', sublevel: MACHINES_SUBLEVEL, key: machineKey(ref), value: machine }
    ]
  }

  /** Records a point directly (when its blocks are already durable). */
  async record (record: PointRecord): Promise<void> {
    const [point, chain, machine] = this.recordOps(record) as Array<IndexOp & { type: 'put' }>
    await this.#points.db.batch([
      { type: 'put', sublevel: this.#points, key: point.key, value: point.value as PointRecord },
      { type: 'put', sublevel: this.#chains, key: chain.key, value: chain.value as string },
      { type: 'put', sublevel: this.#machines, key: machine.key, value: machine.value as MachineInfo }
    ] as any)
  }

  /**
   * A point's record in `tenant`; without a tenant, in this Core's own tenant when it is there,
   * else in any tenant that holds it.
   */
  async get (id: string, tenant?: string): Promise<PointRecord | undefined> {
    if (tenant !== undefined) return await this.#points.get(pointKey(id, tenant))
    const records = await this.records(id)
    return records.find(r => r.tenant === '') ?? records[0]
  }

  /** Every tenant's record of a point. */
  async records (id: string): Promise<PointRecord[]> {
    return await this.#points.values(prefixRange(id + KEY_SEP)).all()
  }

  /** A machine's points, oldest (lowest seq) first. */
  async points (ref: MachineRef): Promise<PointRecord[]> {
    const ids = await this.#chains.values(prefixRange(machineKey(ref) + KEY_SEP)).all()
    const records = await this.#points.getMany(ids.map(id => pointKey(id, ref.tenant)))
    return records.filter((r): r is PointRecord => r !== undefined)
  }

  async latest (ref: MachineRef): Promise<PointRecord | undefined> {
    const [id] = await this.#chains.values({ ...prefixRange(machineKey(ref) + KEY_SEP), reverse: true, limit: 1 }).all()
    return id === undefined ? undefined : await this.get(id, ref.tenant)
  }

  /** Every machine (of one tenant, when given), sorted by name, tenant and origin. */
  async machines (filter: { tenant?: string } = {}): Promise<MachineRecord[]> {
    const range = filter.tenant === undefined ? {} : prefixRange(filter.tenant + KEY_SEP)
    const result: MachineRecord[] = []
    for await (const info of this.#machines.values(range)) {
      const ids = await this.#chains.values(prefixRange(machineKey(info) + KEY_SEP)).all()
      if (ids.length === 0) continue
      result.push({ ...info, points: ids.length, latest: ids[ids.length - 1] })
    }
    return result.sort((a, b) => cmp(a.machine, b.machine) || cmp(a.tenant, b.tenant) || cmp(a.origin, b.origin))
  }

  /**
   * Finds a machine by name. `web01` must be unique across tenants and origins; otherwise write
   * `tenant/web01` or `origin/web01` (`/web01` is this Core's own tenant).
   */
  async findMachine (name: string): Promise<MachineRecord> {
    const slash = name.lastIndexOf('/')
    const machine = slash < 0 ? name : name.slice(slash + 1)
    const qualifier = slash < 0 ? undefined : name.slice(0, slash)
    const all = (await this.machines()).filter(m => m.machine === machine)
    const matches = qualifier === undefined ? all : all.filter(m => m.tenant === qualifier || m.origin === qualifier)
    if (matches.length === 1) return matches[0]
    if (matches.length === 0) throw new NotFoundError(`unknown machine: ${name}`)
    const where = matches.map(m => `${m.tenant === '' ? '/' : m.tenant + '/'}${machine} (origin ${m.origin})`).join(', ')
    throw new AmbiguousNameError(`machine name ${name} is ambiguous: it matches ${where}; name one as tenant/${machine} or origin/${machine}`)
  }

  /**
   * A point of a machine: `latest` (also when `point` is omitted), its `seq` as `drcore points`
   * shows it, its id, or a prefix of the id that only one of its points has. Throws
   * `NotFoundError` when none matches, `AmbiguousNameError` when a prefix matches several.
   */
  async resolvePoint (machineName: string, point?: string): Promise<{ machine: MachineRecord, record: PointRecord }> {
    const machine = await this.findMachine(machineName)
    if (point === undefined || point === 'latest') {
      const record = await this.latest(machine)
      if (record === undefined) throw new NotFoundError(`machine ${machineName} has no recovery points`)
      return { machine, record }
    }
    const exact = await this.get(point, machine.tenant)
    if (exact !== undefined && exact.machine === machine.machine && exact.origin === machine.origin) return { machine, record: exact }
    const all = await this.points(machine)
    const matches = /^\d+$/.test(point) ? all.filter(r => r.seq === Number(point)) : all.filter(r => r.point.startsWith(point))
    if (matches.length === 1) return { machine, record: matches[0] }
    if (matches.length > 1) {
      throw new AmbiguousNameError(`${point} is the start of ${matches.length} points of ${machineName} (seq ${matches.map(r => r.seq).join(', ')}); give more of the id, or its seq`)
    }
    throw new NotFoundError(`machine ${machineName} has no recovery point ${point} (drcore points ${machineName} lists them: latest, a seq, or an id or its start)`)
  }

  /**
   * Stores a point's completeness in every tenant's record of it; returns the updated records.
   * A point that was complete (or already damaged) and is not complete now is damaged: it lost
   * blocks it had. `lost` says so when the caller knows it otherwise (a point this Core took
   * itself was complete when it was committed).
   */
  async setCompleteness (id: string, complete: boolean, missing: number, options: { lost?: boolean } = {}): Promise<PointRecord[]> {
    const records = await this.records(id)
    if (records.length === 0) throw new NotFoundError(`unknown recovery point: ${id}`)
    const damaged = !complete && (options.lost === true || records.some(r => r.complete || r.damaged === true))
    const updated = records.map(r => {
      const { damaged: _, ...rest } = r
      return damaged ? { ...rest, complete, missing, damaged } : { ...rest, complete, missing: complete ? 0 : missing }
    })
    await this.#points.batch(updated.map(r => ({ type: 'put' as const, key: pointKey(id, r.tenant), value: r })))
    return updated
  }

  /** Every point of the repository (all tenants). */
  async all (): Promise<PointRecord[]> {
    return await this.#points.values().all()
  }

  /** Records of points whose closure is known to be incomplete (one per tenant holding one). */
  async orphans (): Promise<PointRecord[]> {
    return (await this.all()).filter(r => !r.complete)
  }

  /**
   * Recomputes completeness of every orphan and damaged point (after blocks arrived from a seed
   * drive, a peer, a backup that healed damaged blocks, or repair); returns the records of the
   * points that became complete.
   */
  async recheckOrphans (store: BlockStore): Promise<PointRecord[]> {
    const completed: PointRecord[] = []
    const ids = new Set((await this.orphans()).map(r => r.point))
    for (const id of ids) {
      let records: PointRecord[]
      try {
        records = await this.checkCompleteness(store, id)
      } catch (err) {
        // its manifest is gone or damaged here: it stays incomplete
        if (err instanceof MissingBlockError || err instanceof CorruptBlockError) continue
        throw err
      }
      if (records[0].complete) completed.push(...records)
    }
    return completed
  }

  /** Walks a point's closure and stores the result in every record of the point. */
  async checkCompleteness (store: BlockStore, id: string, point?: SignedPoint): Promise<PointRecord[]> {
    const signed = point ?? await loadManifest(store, id)
    const report = await missingBlocks(store, signed, { limit: 0 })
    return await this.setCompleteness(id, report.count === 0, report.count)
  }

  /** Forgets a point in one tenant, or in all (its blocks stay until garbage collection). */
  async remove (id: string, tenant?: string): Promise<void> {
    const records = tenant === undefined ? await this.records(id) : [await this.get(id, tenant)].filter(r => r !== undefined)
    for (const record of records) {
      const ref = refOf(record)
      await this.#points.del(pointKey(id, record.tenant))
      await this.#chains.del(chainKey(ref, record.seq, id))
      if (await this.latest(ref) === undefined) await this.#machines.del(machineKey(ref))
    }
  }

  /** `drcore machines --json` */
  async machineRows (name: PeerNamer): Promise<MachineRow[]> {
    return (await this.machines()).map(m => machineRow(m, name))
  }

  /** `drcore points <machine> --json` */
  async pointRows (machineName: string, name: PeerNamer): Promise<PointRow[]> {
    const records = await this.points(await this.findMachine(machineName))
    const ids = new Set(records.map(r => r.point))
    return records.map(r => pointRow(r, r.parent !== null && ids.has(r.parent), name))
  }
}

/** The index record of a point, from its manifest. */
export function pointRecord (signed: SignedPoint, status: { tenant: string, complete: boolean, missing?: number, receivedFrom?: string, receivedAt?: string }): PointRecord {
  const m = signed.manifest
  const volumes: PointRecord['volumes'] = {}
  for (const [name, v] of Object.entries(m.volumes)) volumes[name] = { root: v.root.toString(), type: v.type, files: v.files, bytes: v.bytes }
  const record: PointRecord = {
    point: signed.id.toString(),
    machine: m.machine,
    cluster: m.cluster,
    origin: m.origin,
    tenant: status.tenant,
    seq: m.seq,
    kind: m.kind,
    parent: m.parent?.toString() ?? null,
    createdAt: m.createdAt,
    complete: status.complete,
    missing: status.complete ? 0 : status.missing ?? 0,
    volumes
  }
  if (m.skipped !== undefined && m.skipped > 0) record.skipped = m.skipped
  if (status.receivedFrom !== undefined) record.receivedFrom = status.receivedFrom
  if (status.receivedAt !== undefined) record.receivedAt = status.receivedAt
  return record
}

function refOf (r: MachineRef): MachineRef {
  return { tenant: r.tenant, origin: r.origin, machine: r.machine }
}

function pointKey (id: string, tenant: string): string {
  return id + KEY_SEP + tenant
}

function machineKey (ref: MachineRef): string {
  return [ref.tenant, ref.origin, ref.machine].join(KEY_SEP)
}

function chainKey (ref: MachineRef, seq: number, id: string): string {
  return [machineKey(ref), String(seq).padStart(12, '0'), id].join(KEY_SEP)
}

function cmp (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
