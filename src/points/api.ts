import type { CID } from 'multiformats/cid'
import type { Xattr } from './nodes.ts'

/** The signed part of a recovery-point manifest (dag-cbor). See docs/formats.md. */
export interface Manifest {
  /** 2 is written; 1 (no `skipped`, no v2 fields) is still read */
  version: 1 | 2
  /** peer id (base58btc string) of the Core that took the point */
  origin: string
  machine: string
  cluster: string | null
  /** 1-based sequence number within the machine on its origin Core */
  seq: number
  kind: PointKind
  /** CID of the previous point of the chain (not part of this point's block closure) */
  parent: CID | null
  createdAt: string
  volumes: Record<string, VolumeRef>
  /**
   * v2 (required there): entries the backup could not store (unreadable, unsupported type,
   * unreadable attributes); the point is partial when it is not 0
   */
  skipped?: number
}

export type PointKind = 'base' | 'incremental'

export interface VolumeRef {
  /** root of the volume's tree: a directory node, or a file's content */
  root: CID
  type: 'dir' | 'file'
  /** regular files and symlinks in the volume */
  files: number
  /** bytes of regular file content */
  bytes: number
  /** permission bits of the volume's root directory or file */
  mode: number
  /** modification time of the root, [seconds, nanoseconds] */
  mtime: [number, number]
  /** inode of a file volume at backup time (unchanged-file check of volume images) */
  ino?: number
  /** v2: change time of the root, [seconds, nanoseconds] (unchanged-file check of volume images) */
  ctime?: [number, number]
  /** v2: owner and group of the root */
  uid?: number
  gid?: number
  /** v2: extended attributes of the root, sorted by name */
  xattrs?: Xattr[]
}

/** A manifest as stored and sent: the manifest and its origin's signature (see manifest.ts). */
export interface SignedPoint {
  /** the point id: CID of the dag-cbor block `{manifest, signature}` */
  id: CID
  manifest: Manifest
  /** Ed25519 signature by `manifest.origin` over `dagCbor.encode(manifest)` */
  signature: Uint8Array
  /** the encoded wrapper block */
  bytes: Uint8Array
}

/** Identifies a machine's chain: its name, the Core that backs it up, and the tenant it is kept in. */
export interface MachineRef {
  tenant: string
  origin: string
  machine: string
}

/**
 * What a Core knows about one recovery point, kept in LevelDB (JSON). CIDs as strings.
 * `tenant` is '' for points of this Core's own tenant (its own backups, and points fetched back
 * into it); points received from a peer land in that peer's tenant.
 */
export interface PointRecord {
  point: string
  machine: string
  cluster: string | null
  origin: string
  tenant: string
  seq: number
  kind: PointKind
  parent: string | null
  createdAt: string
  /** every block of the closure is present (cached; recomputed when blocks arrive) */
  complete: boolean
  /** blocks known missing at the last check (0 when complete) */
  missing: number
  /**
   * entries its backup could not store (the manifest's `skipped`): the point is partial. Absent
   * when 0 (and in records written before it was kept)
   */
  skipped?: number
  /**
   * the point was complete here and has lost blocks since (verify found them damaged or gone):
   * data loss until a good copy of those blocks arrives. Absent or false otherwise.
   */
  damaged?: boolean
  volumes: Record<string, { root: string, type: 'dir' | 'file', files: number, bytes: number }>
  /** peer id the point arrived from, when replicated */
  receivedFrom?: string
  receivedAt?: string
}

export interface MachineRecord {
  machine: string
  tenant: string
  origin: string
  cluster: string | null
  points: number
  /** id of the newest point */
  latest: string | null
}
