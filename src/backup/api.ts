/** The types of a backup: what it needs, what it is asked, what it reports (index.ts exports them with backup()). */
import type { PeerId, PrivateKey } from '@libp2p/interface'
import type { BlockStore } from '../store/api.ts'
import type { ChunkerOptions } from '../chunker/api.ts'
import type { PointIndex } from '../points/point-index.ts'
import type { TreeShape } from '../points/shape.ts'
import type { BackupFs, BackupSyncFs } from './fs.ts'
import type { Skipped } from './archiver.ts'

export interface BackupDeps {
  store: BlockStore
  points: PointIndex
  /** the Core's identity: signs the manifest */
  privateKey: PrivateKey
  peerId: PeerId
  /** file system access (default node:fs/promises); tests count reads through it */
  fs?: BackupFs
  /**
   * synchronous calls for the walk and for small files (default: node:fs, unless `fs` is given,
   * in which case every call goes through `fs`)
   */
  syncFs?: BackupSyncFs
  /** chunk sizes: the repository's (its config), default `DEFAULT_CHUNKING`; tests use small ones to get many chunks */
  chunking?: Partial<ChunkerOptions>
  /** node fanout (default `DEFAULT_SHAPE`); tests use small ones to get several index layers */
  shape?: TreeShape
}

export interface BackupOptions {
  machine: string
  /** each volume is a directory tree or a single file (a volume image); paths are followed if symlinks */
  volumes: Array<{ name: string, path: string }>
  /** start a new chain (a base image) even when the machine has points */
  base?: boolean
  /** the machine's cluster; defaults to the cluster of its latest point */
  cluster?: string
  /** re-read files even when size, mtime, ctime and inode are unchanged since the parent */
  rehash?: boolean
  /** called at most every 100 ms, and once at the end */
  onProgress?: (p: BackupProgress) => void
}

export interface BackupProgress {
  /** entries other than directories done */
  files: number
  /** file bytes done: read, or unchanged and taken from the parent without reading */
  bytes: number
  /**
   * what `bytes` will reach: exact for file volumes, the parent point's size for directory
   * volumes (an estimate); absent on the first backup of a directory
   */
  totalBytes?: number
  /** the file being read */
  path: string
}

export interface BackupResult {
  point: string
  machine: string
  kind: 'base' | 'incremental'
  parent: string | null
  seq: number
  /** entries other than directories in the point: files (read or reused from the parent), symlinks, special files */
  files: number
  /** bytes read from disk */
  bytes: number
  /** bytes of chunks the repository did not hold */
  newBytes: number
  /** bytes written to pack files (after compression, nodes included) */
  storedBytes: number
  /**
   * what the point does not hold, with the reason: unreadable entries (why, and the errno code
   * in `code`), sockets (`unsupported type: socket`), attributes that could not be read. The CLI
   * exits 3.
   */
  skipped: Skipped[]
  /** `skipped` is not empty: the point is not all of what was there (recorded in its manifest) */
  partial: boolean
  /**
   * files that kept changing while read, twice: stored as read (the chunks match the node), with
   * the mtime seen before reading, so the next incremental reads them again
   */
  changed: string[]
  /** blocks found damaged earlier (quarantined) that this backup stored a good copy of */
  healed: number
  /** points that were damaged and are complete again thanks to those blocks */
  repaired: string[]
  seconds: number
}
