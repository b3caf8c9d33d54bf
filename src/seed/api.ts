import type { CID } from 'multiformats/cid'
import type { PeerRef } from '../api/peer-ref.ts'

/**
 * The seed descriptor (dag-cbor): what a seed carries, signed by the Core that wrote it. It is
 * stored as the block `{descriptor, signature}` in every part; that block's CID is the seed id.
 * Formats in docs/seed-drives.md.
 */
export interface SeedDescriptor {
  format: 'drcore-seed'
  version: 1
  /** peer id of the Core that wrote the seed (its signature is checked against it) */
  source: string
  /** that Core's name, for messages */
  sourceName: string
  /** peer id of the only Core that may consume it, or null for any Core that trusts the source */
  target: string | null
  createdAt: string
  /** number of part files */
  parts: number
  /** data blocks over all parts (descriptors not counted) */
  blocks: number
  /** bytes of those blocks */
  bytes: number
  machines: SeedMachine[]
  /**
   * ids of the points carried, in the order they were written. Strings, not links, so that each
   * part is a complete DAG on its own (its root reaches only the two descriptor blocks).
   */
  points: string[]
}

export interface SeedMachine {
  machine: string
  /** peer id of the Core that backs it up */
  origin: string
  cluster: string | null
  /** points of this machine in the seed */
  points: number
  /** createdAt of its oldest and newest point in the seed */
  from: string
  to: string
}

/** The root block of each part. */
export interface PartDescriptor {
  format: 'drcore-seed-part'
  version: 1
  /** link to the seed descriptor block (the seed id); that block is the part's second section */
  seed: CID
  /** 1-based */
  part: number
  /** data blocks in this part, after the two descriptor sections */
  blocks: number
  /** bytes of those blocks */
  bytes: number
}

/** A seed descriptor whose block hashed to `id` and whose signature verified. */
export interface VerifiedSeed {
  id: CID
  descriptor: SeedDescriptor
  signature: Uint8Array
  /** the encoded `{descriptor, signature}` block */
  bytes: Uint8Array
}

export type SeedState = 'outstanding' | 'consumed' | 'abandoned'

/** A seed this Core wrote (sublevel `seeds`, key: seed id). */
export interface SeedRecord {
  seed: string
  target: string | null
  machines: SeedMachine[]
  points: string[]
  /** createdAt of the oldest and newest point carried */
  from: string
  to: string
  parts: number
  blocks: number
  bytes: number
  /** where the parts were written, and their file names */
  dir: string
  files: string[]
  maxSize: number | null
  createdAt: string
  state: SeedState
  /** when the state last changed */
  stateAt: string
  /** the seed-drive rules (machine as the rule names it, target peer id) waiting for this seed */
  rules: Array<{ machine: string, to: string }>
}

/** A seed this Core consumes or consumed (sublevel `seed-imports`, key: seed id). */
export interface SeedImportRecord {
  seed: string
  source: string
  sourceName: string
  target: string | null
  /** where its points land on this Core */
  tenant: string
  parts: number
  /** part numbers imported in full, ascending */
  imported: number[]
  points: string[]
  machines: SeedMachine[]
  createdAt: string
  firstImportAt: string
  lastImportAt: string
}

/** A row of `drcore seed list --json`. */
export interface SeedRow {
  seed: string
  /** `outgoing`: written here; `incoming`: being consumed or consumed here */
  direction: 'outgoing' | 'incoming'
  /** outgoing: outstanding, consumed, abandoned; incoming: partial (parts missing), consumed */
  state: SeedState | 'partial'
  /** the Core that wrote it */
  source: PeerRef
  /** the only Core that may consume it, or null for any Core that trusts the source */
  target: PeerRef | null
  machines: string[]
  points: number
  /** createdAt of the oldest and newest point carried */
  oldest: string
  newest: string
  parts: number
  /** incoming: part numbers still to consume */
  missingParts: number[]
  bytes: number | null
  createdAt: string
}

/** One part file written by `seed create`. */
export interface CreatedPart {
  part: number
  file: string
  /** bytes of the file */
  size: number
  blocks: number
}

/** `drcore seed create --json` */
export interface SeedCreateResult {
  seed: string
  parts: CreatedPart[]
  /** points carried */
  points: number
  /** data blocks written (each once, whatever the points and machines sharing it) */
  blocks: number
  /** bytes of those blocks */
  bytes: number
  target: string | null
  /** points left out because they are orphans here (a seed carries complete points only) */
  skipped: Array<{ point: string, machine: string, reason: string }>
  /** files an interrupted `seed create` of this Core had left in the folder, removed first */
  removed: string[]
  seconds: number
}

/** `drcore seed create --json`: the result with its target named as every result names peers. */
export type SeedCreateOutput = Omit<SeedCreateResult, 'target'> & { target: PeerRef | null }

/** What happened to one part file in `seed consume`. */
export interface ConsumedPart {
  part: number
  file: string
  state: 'imported' | 'already imported' | 'failed'
  /** blocks read and verified from it in this run */
  blocks: number
  /** of those, blocks this repository did not hold */
  imported: number
  /** blocks refused: bytes that do not match the CID, or a manifest whose signature fails */
  rejected: number
  error?: string
}

/** `drcore seed consume --json` */
export interface SeedConsumeResult {
  seed: string | null
  parts: ConsumedPart[]
  blocks: number
  imported: number
  rejected: number
  /** of the blocks imported, good copies of blocks found damaged here (quarantined) */
  healed: number
  /** points that became complete in this run (ids) */
  pointsCompleted: string[]
  tenant: string | null
  /** part numbers of the seed not consumed yet */
  missingParts: number[]
  /** every part is in */
  complete: boolean
  /** one line per problem; the CLI prints them and exits 1 */
  errors: string[]
  seconds: number
}
