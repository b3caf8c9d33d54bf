import { open } from 'node:fs/promises'

/**
 * Makes the creations, renames and deletions of entries in `dir` durable: fsync of the
 * directory itself, which `node:fs` offers only through a handle opened for it.
 */
export async function syncDirectory (dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
