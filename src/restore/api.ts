/** The types of browse, restore and point checks (index.ts exports them with the functions). */
import type { BlockStore } from '../store/api.ts'
import type { PointIndex } from '../points/point-index.ts'
import type { EntryType } from '../points/nodes.ts'

export interface RestoreDeps {
  store: BlockStore
  points: PointIndex
}

/** Which point, and where in it. */
export interface PointSelector {
  /** machine name, or `tenant/machine` when the name is ambiguous */
  machine: string
  /** point id or `latest` (the default) */
  point?: string
  /** volume name; may be omitted when the point has one volume, or when `path` starts with it */
  volume?: string
  /** path inside the volume (`/` or omitted: the volume root) */
  path?: string
}

export interface ListEntry {
  /** where it is in the point, its volume's name first (`www/html/index.html`), as `--path` takes it */
  path: string
  /**
   * the name as text: as it is when its bytes are valid UTF-8, else escaped (`\xHH` for each
   * byte that is not part of valid UTF-8, `\\` for a backslash) with `escaped` set. `--path`
   * takes the escaped form.
   */
  name: string
  /** present (true) when `name` is the escaped form */
  escaped?: true
  type: EntryType
  size: number
  mode: number
  /** ISO 8601 with the nanoseconds the backup recorded (`2026-12-05T12:50:29.144411045Z`) */
  mtime: string
  /** symlinks: the target, escaped like a name when it is not valid UTF-8 (`targetEscaped`) */
  target?: string
  targetEscaped?: true
  /** owner and group, when recorded */
  uid?: number
  gid?: number
  /** devices: [major, minor] */
  rdev?: [number, number]
  /** files with several links in the volume: their shared id */
  hardlink?: number
  /** names of the entry's extended attributes (ACLs included), escaped like names */
  xattrs?: string[]
  /** every block of its data is in the repository (false only in orphans) */
  present: boolean
}

export interface RestoreOptions extends PointSelector {
  /** destination directory (created when absent); what is restored must not exist in it yet */
  dest: string
  onProgress?: (p: RestoreProgress) => void
}

export interface RestoreProgress {
  files: number
  bytes: number
  totalBytes: number
  path: string
}

export interface RestoreResult {
  point: string
  machine: string
  /** the paths created directly under `dest` */
  restored: string[]
  /** entries other than directories restored */
  files: number
  bytes: number
  /**
   * what the destination could not take, one line per kind with how many entries it concerns:
   * extended attributes or ACLs it does not support, device nodes as non-root, ...
   */
  warnings: string[]
  seconds: number
}
