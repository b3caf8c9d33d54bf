import { randomBytes, timingSafeEqual } from 'node:crypto'
import { chmod, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MalformedError, OperationalError } from '../errors.ts'

/** Where the API token lives: `<repo>/api-token`, mode 0600. */
export function tokenPath (dir: string): string {
  return join(dir, 'api-token')
}

/**
 * The API token of a repository, created on the first `drcore start` and kept across restarts,
 * so the console's cookie and a Prometheus scraper's bearer token keep working when the daemon
 * comes back. Delete the file and restart the daemon to rotate it.
 */
export async function loadOrCreateToken (dir: string): Promise<string> {
  const path = tokenPath(dir)
  try {
    const token = (await readFile(path, 'utf8')).trim()
    if (/^[A-Za-z0-9_-]{32,}$/.test(token)) return token
    throw new MalformedError(`${path} does not hold a valid API token (32 or more of A-Z a-z 0-9 _ -); delete it to get a new one`)
  } catch (err: any) {
    if (err.code !== 'ENOENT') throw err instanceof MalformedError ? err : new OperationalError(`cannot read the API token ${path}: ${err.code ?? err.message}`)
  }
  const token = randomBytes(24).toString('base64url')
  await writeFile(path + '.tmp', token + '\n', { mode: 0o600 })
  await chmod(path + '.tmp', 0o600)
  await rename(path + '.tmp', path)
  return token
}

/** Whether `given` is the API token, compared in constant time (it is a secret). */
export function sameToken (given: string, token: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}
