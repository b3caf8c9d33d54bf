import { lstat, readdir } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * A repository is readable by its owner only: folders 0700, files 0600 (docs/architecture.md,
 * "The repository is its owner's only"). New repositories are made so; this finds what an older
 * drcore, a copy or a hand edit left wider, for `drcore verify` to warn about: one line per kind.
 */
export async function checkRepositoryModes (dir: string): Promise<string[]> {
  const wide = new Map<string, { count: number, example: string }>()
  const check = async (path: string, kind: string): Promise<boolean> => {
    let st
    try {
      st = await lstat(path)
    } catch {
      return false
    }
    if (st.isSymbolicLink()) return false
    if ((st.mode & 0o077) !== 0) {
      const seen = wide.get(kind)
      const example = `${path} is ${(st.mode & 0o7777).toString(8).padStart(4, '0')}`
      if (seen === undefined) wide.set(kind, { count: 1, example })
      else seen.count++
    }
    return st.isDirectory()
  }
  await check(dir, 'repository folders')
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const path = join(dir, name)
    const kind = name === 'identity.key' ? 'the identity key' : name === 'packs' || name === 'index' ? 'repository folders' : 'repository files'
    if (!await check(path, kind)) continue
    const inner = name === 'packs' ? 'pack files' : name === 'index' ? 'index files' : 'repository files'
    for (const child of await readdir(path).catch(() => [] as string[])) await check(join(path, child), inner)
  }
  return [...wide].map(([kind, { count, example }]) =>
    `other users can read ${kind} (${count}, e.g. ${example}): run "chmod -R go-rwx ${dir}" to keep the repository to its owner`)
}
