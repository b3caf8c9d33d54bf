import { OperationalError } from '../errors.ts'
import { jsonSublevel } from '../store/sublevels.ts'
import type { RootDb } from '../store/sublevels.ts'

/**
 * The repository format this drcore writes: the layout of the index, the packs and the records
 * in them (docs/formats.md). A repository of another format is refused before anything reads
 * or writes it. Version 1 is every repository written so far; one without a recorded version
 * was written before versions were recorded, which is version 1 too.
 */
export const REPOSITORY_FORMAT = 1
/** the oldest format this drcore still reads (and upgrades in place) */
export const OLDEST_READABLE_FORMAT = 1

const META_SUBLEVEL = 'meta'
const FORMAT_KEY = 'format'

/**
 * The repository is of a format this drcore cannot read: the machine's (its drcore is too old or
 * the index is not drcore's), not a request to ask differently; operational, as `ErrorKind` says.
 */
export class RepositoryFormatError extends OperationalError {
  override name = 'RepositoryFormatError'
}

/**
 * Checks the format recorded in the index and records it when absent. Throws
 * `RepositoryFormatError` for a format this drcore does not read.
 */
export async function checkRepositoryFormat (db: RootDb, dir: string): Promise<number> {
  const meta = jsonSublevel<unknown>(db, META_SUBLEVEL)
  const recorded = await meta.get(FORMAT_KEY)
  if (recorded === undefined) {
    await recordRepositoryFormat(db)
    return REPOSITORY_FORMAT
  }
  if (typeof recorded !== 'number' || !Number.isInteger(recorded)) {
    throw new RepositoryFormatError(`repository ${dir} records a format version this drcore does not understand (${JSON.stringify(recorded)}); this drcore reads format ${readable()}`)
  }
  if (recorded > REPOSITORY_FORMAT) {
    throw new RepositoryFormatError(`repository ${dir} is format version ${recorded}, written by a newer drcore; this drcore reads format ${readable()}: upgrade drcore to open it`)
  }
  if (recorded < OLDEST_READABLE_FORMAT) {
    throw new RepositoryFormatError(`repository ${dir} is format version ${recorded}; this drcore reads format ${readable()}`)
  }
  return recorded
}

/** Records the format in a new repository. */
export async function recordRepositoryFormat (db: RootDb): Promise<void> {
  const meta = jsonSublevel<number>(db, META_SUBLEVEL)
  await db.batch([{ type: 'put', sublevel: meta, key: FORMAT_KEY, value: REPOSITORY_FORMAT }] as any, { sync: true })
}

function readable (): string {
  return OLDEST_READABLE_FORMAT === REPOSITORY_FORMAT ? `version ${REPOSITORY_FORMAT}` : `versions ${OLDEST_READABLE_FORMAT} to ${REPOSITORY_FORMAT}`
}
