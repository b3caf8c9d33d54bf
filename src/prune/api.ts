/** What `drcore prune` reports (`--json`); the first five fields are the contract of issue 11. */
export interface PruneResult {
  /** index entries removed (with --dry-run: that would be removed) */
  blocksRemoved: number
  /** pack bytes given back to the file system, less what the rewrite wrote (--dry-run: an estimate) */
  bytesFreed: number
  /** mostly dead packs whose live records were copied, then deleted */
  packsRewritten: number
  /** packs with no live record, deleted */
  packsDeleted: number
  seconds: number
  /** nothing was changed: the figures say what a prune would do now */
  dryRun: boolean
  /** points whose closures were kept (every tenant's; a point in two tenants counts once) */
  points: number
  /** index entries kept */
  blocksKept: number
  /** quarantine records of damaged blocks no point needs any more, removed */
  damagedRemoved: number
  /** packs when the prune planned, and bytes they held (committed lengths) */
  packsBefore: number
  bytesBefore: number
  /** bytesBefore - bytesFreed: what writers added meanwhile is not counted */
  bytesAfter: number
  /** packs the plan would have deleted or rewritten and that stayed: a block in them became live during the prune, or they did not read */
  packsKept: number
  /** packs the rewrite wrote into */
  packsWritten: number
  /** packs a writer held when the prune planned: not touched */
  packsHeld: number
  /** live bytes copied by the rewrite (--dry-run: that would be copied) */
  bytesCopied: number
  /** dead bytes left in packs that were not worth rewriting */
  deadBytesLeft: number
  /** the share of dead bytes the plan tolerates (0.05) */
  maxUnused: number
  /** seconds spent waiting for backups, transfers and imports that started before the prune */
  waitedForWriters: number
  /** memory the live set took (Bloom filter and walked nodes) */
  liveSetBytes: number
  /** live blocks whose copy did not verify while being copied: quarantined (drcore repair heals them) */
  damaged: string[]
}
