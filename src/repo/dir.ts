import { homedir } from 'node:os'
import { join, resolve } from 'node:path'

/**
 * `--repo`, else `$DRCORE_REPO`, else `~/.drcore`. Kept apart from index.ts, which loads LevelDB
 * and the key library: the CLI resolves the directory on every command, most of which then only
 * talk to the daemon.
 */
export function resolveRepoDir (flag?: string): string {
  return resolve(flag ?? process.env.DRCORE_REPO ?? join(homedir(), '.drcore'))
}
