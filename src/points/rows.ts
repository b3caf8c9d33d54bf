import type { PeerNamer, PeerRef } from '../api/peer-ref.ts'
import type { MachineRecord, PointKind, PointRecord } from './api.ts'

/** A row of `drcore machines --json`. */
export interface MachineRow {
  machine: string
  tenant: string
  /** the Core that backs the machine up */
  origin: PeerRef
  cluster: string | null
  points: number
  latest: string | null
}

/** A row of `drcore points --json`. `orphan` is `!complete`. */
export interface PointRow {
  point: string
  machine: string
  tenant: string
  seq: number
  kind: PointKind
  parent: string | null
  /**
   * the parent is still one of the machine's points here; false when it is not (forgotten by
   * retention, or never here): the point stays complete and restorable, its closure is its own.
   * null for a base (no parent)
   */
  parentPresent: boolean | null
  createdAt: string
  /** when this Core received it (points that came from elsewhere) */
  receivedAt: string | null
  complete: boolean
  /** older data was never here (`!complete` and not damaged) */
  orphan: boolean
  /** was complete here and has lost blocks since: data loss until repaired */
  damaged: boolean
  /** blocks known missing at the last check (a count: `verify` lists them) */
  missingBlocks: number
  /** its backup could not store some entries (`skipped` of them): it is not all of what was there */
  partial: boolean
  skipped: number
  origin: PeerRef
  volumes: Record<string, { type: 'dir' | 'file', files: number, bytes: number }>
}

export function machineRow (m: MachineRecord, name: PeerNamer): MachineRow {
  return { machine: m.machine, tenant: m.tenant, origin: name(m.origin), cluster: m.cluster, points: m.points, latest: m.latest }
}

export function pointRow (r: PointRecord, parentPresent: boolean, name: PeerNamer): PointRow {
  const volumes: PointRow['volumes'] = {}
  for (const [name, v] of Object.entries(r.volumes)) volumes[name] = { type: v.type, files: v.files, bytes: v.bytes }
  return {
    point: r.point,
    machine: r.machine,
    tenant: r.tenant,
    seq: r.seq,
    kind: r.kind,
    parent: r.parent,
    parentPresent: r.parent === null ? null : parentPresent,
    createdAt: r.createdAt,
    receivedAt: r.receivedAt ?? null,
    complete: r.complete,
    orphan: !r.complete && r.damaged !== true,
    damaged: r.damaged === true,
    missingBlocks: r.missing,
    partial: (r.skipped ?? 0) > 0,
    skipped: r.skipped ?? 0,
    origin: name(r.origin),
    volumes
  }
}
