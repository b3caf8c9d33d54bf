import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A new directory under the system's temporary directory. */
export async function tempDir (prefix = 'drcore-test-'): Promise<string> {
  return await mkdtemp(join(tmpdir(), prefix))
}

export async function removeDir (dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
}
