import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { InvalidInputError, OperationalError } from '../errors.ts'
import { PARTIAL_SUFFIX } from './constants.ts'
import { SeedPartReader } from './part-reader.ts'

/** `<seed id>-0001.car.zst` (or `.car`, before), and the same with `.partial` while it is written. */
const PART_NAME = /^(b[a-z2-7]+)-\d{4,}\.car(\.zst)?$/
const UNFINISHED_NAME = new RegExp(`^b[a-z2-7]+-\\d{4,}\\.car(\\.zst)?${PARTIAL_SUFFIX.replace('.', '\\.')}$`)

/** Part files `seed create` never finished (`<name>.car.zst.partial`, or `.car.partial` of older seeds) among `names`. */
export function unfinishedParts (names: string[]): string[] {
  return names.filter(n => UNFINISHED_NAME.test(n)).sort()
}

/**
 * Removes from `dir` what an interrupted `seed create` left there, so that running the command
 * again into the same folder leaves exactly one seed in it: unfinished parts (`.car.zst.partial`,
 * never usable) and the finished parts of seeds this Core signed (`self`) but never recorded
 * (`recorded` says no: the command died before it was done, so nothing waits for that seed).
 * Parts of recorded seeds, of other Cores' seeds and files that are not parts stay. Returns the
 * names removed, sorted.
 */
export async function removeUnfinishedSeeds (dir: string, self: string, recorded: (seed: string) => Promise<boolean>): Promise<string[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return []
    if (code === 'ENOTDIR') throw new InvalidInputError(`--out ${dir} is a file, not a directory: give a directory (it is created when missing)`)
    if (code === 'EACCES' || code === 'EPERM') throw new OperationalError(`--out ${dir}: this user may not read that directory; give one it may write to`)
    throw new OperationalError(`cannot read the seed directory ${dir}: ${(err as Error).message}`)
  }
  const doomed = unfinishedParts(names)
  const verdicts = new Map<string, boolean>()
  for (const name of names) {
    const seed = PART_NAME.exec(name)?.[1]
    if (seed === undefined) continue
    if (!verdicts.has(seed)) verdicts.set(seed, !await recorded(seed) && await signedBy(join(dir, name), self))
    if (verdicts.get(seed) === true) doomed.push(name)
  }
  for (const name of doomed) {
    await rm(join(dir, name), { force: true }).catch((err: Error) => {
      throw new OperationalError(`cannot remove ${join(dir, name)}, left by an interrupted seed create: ${err.message}`)
    })
  }
  return doomed.sort()
}

/** Whether the part at `path` is one of a seed `self` signed (false for anything unreadable). */
async function signedBy (path: string, self: string): Promise<boolean> {
  let reader: SeedPartReader
  try {
    reader = await SeedPartReader.open(path)
  } catch {
    return false
  }
  await reader.close()
  return reader.seed.descriptor.source === self
}
