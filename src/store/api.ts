import type { CID } from 'multiformats/cid'
import type { CorruptBlockError, MissingBlockError } from '../errors.ts'
import type { DamagedBlock } from './quarantine.ts'
import type { StorageUsage } from './storage-usage.ts'

export type { DamagedBlock } from './quarantine.ts'

/**
 * The block store: content-addressed blocks in append-only, zstd-compressed pack files, indexed
 * by LevelDB (`CID -> {pack, offset, length}`). See docs/formats.md.
 *
 * Write order (crash safety): pack bytes are appended and fsynced, then the index batch is
 * written. A block is visible to `has`/`get` only once its index entry is committed. After a
 * crash, pack bytes past the last committed length are truncated on open.
 */
export interface BlockStore {
  /** true when the block is indexed */
  has (cid: CID): Promise<boolean>
  /** one answer per CID, in order; one LevelDB multi-get */
  hasMany (cids: CID[]): Promise<boolean[]>
  /**
   * Reads, decompresses and rehashes a block. Throws `MissingBlockError` when it is not indexed
   * and `CorruptBlockError` (naming the CID) when its bytes do not match its hash.
   */
  get (cid: CID): Promise<Uint8Array>
  /**
   * A block as the store holds it, not decompressed: its record flags (FLAG_ZSTD: the body is a
   * zstd frame), the body, and the block's length. The copy is proved first (decompressed and
   * rehashed, as `get` does; a damaged copy is quarantined and throws `CorruptBlockError`), so
   * a Core never hands a peer or a seed drive a body its own disk damaged. The caller owns the
   * body. This is what replication (v2) and seed drives carry.
   */
  getStored (cid: CID): Promise<StoredBlock>
  /**
   * `getStored` for a list of blocks: each the block, or the error `getStored` would have thrown
   * for it (`MissingBlockError`, `CorruptBlockError`; others end the iteration). Blocks that lie
   * near each other in one pack are read with one read, so a run of small blocks costs a few
   * large reads instead of one read each. Yielded in the list's order, or with `order: 'store'`
   * in the order they are stored (the blocks not here last): for a caller to whom the order
   * does not matter, the reads are then sequential whatever order the list came in.
   */
  getStoredMany (cids: CID[], options?: { order?: 'given' | 'store' }): AsyncIterable<StoredRead>
  /** size in bytes of the uncompressed block, or undefined when absent */
  size (cid: CID): Promise<number | undefined>
  /** bytes of the block's body in its pack (after compression; what `getStored` gives), or undefined when absent: what a tenant's quota counts */
  storedSize (cid: CID): Promise<number | undefined>
  /** Starts a write batch. Several writers may be open at once (each appends to its own pack). */
  writer (): BlockWriter
  /** every indexed block, in key order */
  entries (): AsyncIterable<{ cid: CID, size: number, storedSize: number }>
  stats (): Promise<StoreStats>
  /**
   * Rehashes every block. Yields one result per block; `ok: false` carries the error message.
   * Reads packs sequentially (not in index order) so it runs at disk speed.
   */
  verifyAll (onProgress?: (done: number, total: number) => void): AsyncIterable<VerifyResult>
  /**
   * Takes blocks whose stored copy failed a check out of the index (after reading each once
   * more: a copy that reads well now stays). From then on `has` answers false for them and `get`
   * throws `CorruptBlockError` saying they wait for a good copy; the next writer of the same
   * bytes stores them anew, which heals them. Returns the CIDs quarantined.
   */
  quarantine (blocks: Array<{ cid: CID, reason: string }>): Promise<CID[]>
  /** The blocks in quarantine, with why and when they were found damaged. */
  damaged (): AsyncIterable<DamagedBlock>
  /**
   * Reads every quarantined copy once more and takes back into the index those that now read
   * well (the damage was a passing read error). Returns their CIDs.
   */
  reinstate (): Promise<CID[]>
  /**
   * Looks through every pack for another copy of each of `cids` that verifies (a block can be
   * in the packs twice), and stores the first good one found through a writer: a quarantined
   * block is healed, a block missing from the index is indexed again. Returns their CIDs.
   */
  salvage (cids: Iterable<CID>): Promise<CID[]>
  /**
   * Starts a garbage collection (docs/retention.md, "Garbage collection"): from this call on,
   * every block the store reports present (`has`, `hasMany`, `get`, a writer's dedup hit) or
   * stores is live, with everything below it; then waits for the writers open at the call to
   * finish. The caller marks what it keeps (`Collection.mark`), then plans and sweeps. One
   * collection at a time: a second call throws `CollectionRunningError`.
   */
  collect (options: CollectOptions): Promise<Collection>
  close (): Promise<void>
}

/** What a collection needs to know about blocks the store does not interpret. */
export interface CollectOptions {
  /** whether a block may link to others (a node); a raw chunk has no links and is never read by the mark */
  hasLinks (cid: CID): boolean
  /** the blocks a node links to; an undecodable block links to nothing */
  links (cid: CID, bytes: Uint8Array): CID[]
  /** expected number of live blocks beyond those indexed now (blocks a writer may add meanwhile) */
  slack?: number
  /** told while the collection waits for writers opened before it */
  onWait?: (writers: number) => void
}

/**
 * A garbage collection in progress (src/store/collection.ts). The live set is a Bloom filter
 * (no false negatives) plus an exact set of the nodes walked; blocks the store reports present
 * while the collection runs join it, with their closure, before the answer is given.
 */
export interface Collection {
  /** seconds `collect` waited for writers opened before it */
  readonly waitedSeconds: number
  /** bytes the live set takes in memory */
  readonly memoryBytes: number
  /**
   * Adds `roots` and every block below them to the live set. Returns the nodes it could not
   * read (absent, or damaged here): what lies below them is not known.
   */
  mark (roots: CID[]): Promise<CID[]>
  /** Reads a block the way the mark does: without adding it to the live set. */
  read (cid: CID): Promise<Uint8Array>
  /**
   * Reads the index against the live set: live and dead bytes per pack, the packs to delete and
   * those to rewrite (most dead first, until the dead bytes left are at most `maxUnused` of the
   * repository). The packs it picks are kept from writers until `end`.
   */
  plan (options?: { maxUnused?: number }): Promise<SweepPlan>
  /** Carries the plan out, in the crash-safe order of docs/retention.md. */
  sweep (plan: SweepPlan, hooks?: SweepHooks): Promise<SweepResult>
  /** Ends the collection: packs it kept from writers and did not delete are theirs again. */
  end (): Promise<void>
}

export interface PackUse {
  pack: number
  /** committed length */
  bytes: number
  liveBytes: number
  /** bytes of dead records, of copies nobody indexes and of quarantined copies */
  deadBytes: number
}

export interface SweepPlan {
  /** packs and their committed bytes when the plan was made */
  packs: number
  bytes: number
  /** index entries and record bytes the live set keeps */
  liveBlocks: number
  liveBytes: number
  /** index entries not in the live set: removed by the sweep */
  deadBlocks: number
  deadBytes: number
  /** quarantine records of blocks not in the live set */
  deadDamaged: number
  /** packs with no live record: deleted */
  remove: PackUse[]
  /** packs whose live records are copied to new packs before they are deleted */
  rewrite: PackUse[]
  /** dead bytes left in the packs kept */
  deadBytesLeft: number
  /** packs held by a writer when the plan was made: never touched */
  held: number
  maxUnused: number
}

export interface SweepHooks {
  /**
   * The index writes to make with the removal of these blocks, in the same batch (the tenants'
   * references to them, their usage counters).
   */
  removed?: (cids: CID[]) => Promise<IndexOp[]> | IndexOp[]
  /** checked between steps: an aborted sweep stops where it is (every step is crash-safe) */
  signal?: AbortSignal
  onProgress?: (phase: 'remove' | 'rewrite' | 'delete', done: number, total: number) => void
}

export interface SweepResult {
  /** index entries removed */
  blocksRemoved: number
  /** quarantine records removed (their blocks were not live either) */
  damagedRemoved: number
  packsDeleted: number
  packsRewritten: number
  /** packs the plan doomed that were kept: a block in them became live during the sweep, or they did not read */
  packsKept: number
  /** new packs the rewrite wrote into (or appended to) */
  packsWritten: number
  /** live record bytes copied by the rewrite */
  bytesCopied: number
  /** bytes of the packs deleted less the bytes the rewrite wrote */
  bytesFreed: number
  /** live blocks whose copy did not verify while being copied: quarantined, for verify and repair */
  damaged: string[]
}

/** A block in its stored form: a zstd frame of it (`flags & FLAG_ZSTD`) or the block itself. */
/** One result of `BlockStore.getStoredMany`. */
export type StoredRead = { cid: CID, stored: StoredBlock, error?: undefined } | { cid: CID, stored?: undefined, error: MissingBlockError | CorruptBlockError }

export interface StoredBlock {
  /** record flags: bit 0 (FLAG_ZSTD) says the body is a zstd frame */
  flags: number
  body: Uint8Array
  /** length of the block itself (what the body decompresses to) */
  rawLength: number
}

/**
 * A stored body proved against its CID (decompressed, rehashed) by `proveStored`
 * (block-codec.ts), whose proved copy the store keeps out of the holder's reach: the holder sees
 * what was proved, never the bytes, so nothing it does to any buffer can change what
 * `BlockWriter.putProved` stores. Hand it to one writer, or `release` it (its copy is freed at
 * once rather than by garbage collection).
 */
export interface ProvedBlock {
  readonly cid: CID
  /** record flags of the proved body (FLAG_ZSTD: a zstd frame) */
  readonly flags: number
  /** length of the block itself */
  readonly rawLength: number
  /** bytes of the proved body */
  readonly storedLength: number
  /** drops the proved copy (the block is not stored after all); nothing once a writer took it */
  release (): void
}

export type { StorageUsage } from './storage-usage.ts'

export interface StoreStats {
  blocks: number
  /** sum of uncompressed block sizes */
  rawBytes: number
  /** sum of compressed sizes in packs (live blocks only) */
  storedBytes: number
  packs: number
  /** bytes of all pack files on disk (or objects in the bucket) */
  packBytes: number
  /** with packs in an object store: its requests, errors and cache since the Core started */
  objectStore?: StorageUsage
}

export interface VerifyResult {
  cid: CID
  ok: boolean
  error?: string
}

export interface WriterStats {
  /** blocks this writer stored (not already present) */
  blocks: number
  /** uncompressed bytes of those blocks */
  newBytes: number
  /** bytes they took in packs after compression (plus record headers) */
  storedBytes: number
  /** of those blocks, how many were in quarantine: a good copy of a damaged block heals it */
  healed: number
}

/** A LevelDB batch operation added to the writer's final index batch (e.g. a manifest record). */
export type IndexOp =
  | { type: 'put', sublevel: string, key: string, value: unknown }
  | { type: 'del', sublevel: string, key: string }

export interface BlockWriter {
  /**
   * Stores `bytes` as a block of `codec` (raw 0x55 or dag-cbor 0x71) and returns its CID,
   * computed from the writer's own copy of the bytes: what is stored is, by construction, what
   * the CID names. Deduplicates against the index and this writer's pending blocks (`added`
   * false). May await a flush when the pending buffer is full (backpressure).
   *
   * Ownership: `bytes` is borrowed for the synchronous part of the call only. It is copied before
   * `add` returns its promise, so the caller may overwrite its buffer as soon as `add` returns
   * (without awaiting it).
   */
  add (codec: number, bytes: Uint8Array): Promise<{ cid: CID, added: boolean }>
  /**
   * Queues a block whose CID the caller knows (a node it built, a block from a peer or a seed
   * drive). The writer hashes its own copy and refuses bytes that do not match `cid` with
   * `BlockIntegrityError`; the writer then refuses every further call (nothing it holds is
   * committed). Returns whether it will be stored (false: already here or pending). Same
   * ownership as `add`.
   */
  put (cid: CID, bytes: Uint8Array): Promise<boolean>
  /**
   * Queues a block in its stored form (`getStored` on a peer, a seed drive's body), to be stored
   * as it came: no recompression. Every body is proved before it counts, even one the store
   * already holds (a duplicate is what lets a tenant claim a block; see docs/protocol.md): a
   * worker decompresses it (at most `rawLength` bytes, at most MAX_BLOCK_SIZE) and hashes it
   * against `cid`. A body that does not prove it fails the writer with `BlockIntegrityError`:
   * the flush that would hold it writes nothing, and every later call throws. Proofs run in the
   * background: the failure surfaces at a later `putStored`, `flush` or `commit`, always before
   * anything of that flush is indexed. Returns whether it will be stored. Same ownership as
   * `add`: `stored.body` is copied before the call returns.
   */
  putStored (cid: CID, stored: StoredBlock): Promise<boolean>
  /**
   * Queues a block proved before (`proveStored`: a seed part's reader proves each section so
   * that a bad one is refused alone), storing the copy that was proved: the same guarantee as
   * `putStored` without a second copy and proof. The writer takes the copy from `proved` (a
   * second `putProved` of it throws); already here or pending: the copy is released and
   * false is returned. Nothing the caller holds is read or kept.
   */
  putProved (proved: ProvedBlock): Promise<boolean>
  /** Makes every queued block durable and indexed (pack fsync, then index batch). */
  flush (): Promise<void>
  /**
   * Flushes, then writes `ops` in the same LevelDB batch as the last index entries, so a manifest
   * is never committed before its blocks. Closes the writer.
   */
  commit (ops?: IndexOp[]): Promise<WriterStats>
  /** Drops pending (unflushed) blocks and closes the writer. Flushed blocks stay. */
  abort (): Promise<void>
  readonly stats: WriterStats
}
