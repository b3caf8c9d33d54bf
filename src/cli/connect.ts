import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { HttpCoreClient } from '../api/client.ts'
import type { DaemonInfo, OperationControl } from '../api/client.ts'
import { cancellable } from '../api/cancel.ts'
import { operations } from '../api/operations.ts'
import type { OperationName, ProgressFn } from '../api/operations.ts'
import { UserError } from '../errors.ts'
import { resolveRepoDir } from '../repo/dir.ts'

/** What a command talks to: the running daemon, or the repository opened in this process. */
export interface CoreConnection {
  readonly dir: string
  readonly viaDaemon: boolean
  call (name: OperationName, input?: Record<string, unknown>, onProgress?: ProgressFn, control?: OperationControl): Promise<any>
}

export async function readDaemonInfo (dir: string): Promise<DaemonInfo | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'daemon.json'), 'utf8'))
  } catch {
    return undefined
  }
}

/**
 * When `drcore start` runs on the repository, commands go through its HTTP API (address and
 * token in `<repo>/daemon.json`); otherwise the command opens the repository itself, and
 * operations that need the network are refused with a hint to start the Core.
 */
export async function withCore<T> (repoFlag: string | undefined, fn: (core: CoreConnection) => Promise<T>): Promise<T> {
  const dir = resolveRepoDir(repoFlag)
  const info = await readDaemonInfo(dir)
  if (info != null) {
    const client = new HttpCoreClient(info)
    const alive = await client.call('id').then(() => true, () => false)
    if (alive) {
      return await fn({ dir, viaDaemon: true, call: async (name, input = {}, onProgress, control) => await client.call(name, input, onProgress, control) })
    }
  }
  const { OfflineCore } = await import('../core/index.ts')
  const core = await OfflineCore.open(dir)
  try {
    return await fn({
      dir,
      viaDaemon: false,
      call: async (name, input = {}, onProgress, control = {}) => {
        if ((operations[name] as { online?: boolean }).online === true) {
          throw new UserError(`this command needs the running Core: start it with "drcore start --repo ${dir}", then try again`)
        }
        if (control.detach === true) throw new UserError(`--detach needs the running Core, to carry on without this command: start it with "drcore start --repo ${dir}"`)
        const cancel = control.cancel
        return await core.run(name, input, cancel === undefined ? onProgress : cancellable(name, () => cancel.aborted, onProgress))
      }
    })
  } finally {
    await core.close()
  }
}
