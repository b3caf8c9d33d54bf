import { jsonSublevel } from '../store/index.ts'
import type { IndexOp, JsonSublevel, RootDb } from '../store/index.ts'
import { SEED_IMPORTS_SUBLEVEL } from './constants.ts'
import type { SeedImportRecord } from './api.ts'

/**
 * The seeds this Core consumes (sublevel `seed-imports`, key: seed id): which parts are in. A
 * part is recorded in the same index batch as its last blocks, so "imported" always means every
 * block of the part is durable here.
 */
export class SeedImports {
  readonly #imports: JsonSublevel<SeedImportRecord>

  constructor (db: RootDb) {
    this.#imports = jsonSublevel<SeedImportRecord>(db, SEED_IMPORTS_SUBLEVEL)
  }

  async get (seed: string): Promise<SeedImportRecord | undefined> {
    return await this.#imports.get(seed)
  }

  async list (): Promise<SeedImportRecord[]> {
    const records = await this.#imports.values().all()
    return records.sort((a, b) => a.firstImportAt.localeCompare(b.firstImportAt))
  }

  /** The write that stores `record`; commit it with the part's blocks (`BlockWriter.commit`). */
  putOp (record: SeedImportRecord): IndexOp {
    return { type: 'put', sublevel: SEED_IMPORTS_SUBLEVEL, key: record.seed, value: record }
  }
}

/** Part numbers of a seed that are not in `imported`. */
export function missingParts (parts: number, imported: number[]): number[] {
  const have = new Set(imported)
  const missing: number[] = []
  for (let part = 1; part <= parts; part++) if (!have.has(part)) missing.push(part)
  return missing
}
