import { UserError } from '../errors.ts'
import type { ProgressFn } from './operations.ts'

/** An operation stopped at the operator's request (Ctrl-C); exit status 130, as for SIGINT. */
export class CancelledError extends UserError {
  override name = 'CancelledError'
  override exitCode = 130
}

/**
 * Long operations stop where they report progress: once `cancelled()` holds, their next report
 * throws `CancelledError`, which unwinds the operation as any failure does (a backup takes no
 * point, a restore keeps what it wrote). The same in the CLI's own process and in the daemon.
 */
export function cancellable (name: string, cancelled: () => boolean, onProgress?: ProgressFn): ProgressFn {
  return p => {
    if (cancelled()) throw new CancelledError(`${name} was cancelled`)
    onProgress?.(p)
  }
}
