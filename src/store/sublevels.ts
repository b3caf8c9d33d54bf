import type { AbstractSublevel } from 'abstract-level'
import type { Level } from 'level'

/** The repository's root LevelDB, as every module receives it. */
export type RootDb = Level<string, any>

/** A sublevel with utf8 keys and JSON values: the encoding of every record outside the block index. */
export type JsonSublevel<V = unknown> = AbstractSublevel<RootDb, string | Buffer | Uint8Array, string, V>

/**
 * Opens the sublevel `name` of the root database with utf8 keys and JSON values. Every module
 * that keeps records in the repository uses this, so that `IndexOp`s committed through a block
 * writer (which name a sublevel by string) land with the same encodings as direct writes.
 */
export function jsonSublevel<V = unknown> (db: RootDb, name: string): JsonSublevel<V> {
  return db.sublevel<string, V>(name, { keyEncoding: 'utf8', valueEncoding: 'json' })
}

/** CID bytes -> encoded BlockLocation */
export type BlocksSublevel = ReturnType<typeof blocksSublevel>

export function blocksSublevel (db: RootDb) {
  return db.sublevel<Uint8Array, Uint8Array>('blocks', { keyEncoding: 'view', valueEncoding: 'view' })
}

export function packsSublevel (db: RootDb): JsonSublevel<number> {
  return jsonSublevel<number>(db, 'packs')
}

/** The sublevels the block store owns. */
export const STORE_SUBLEVELS: ReadonlySet<string> = new Set(['blocks', 'packs', 'damaged'])
