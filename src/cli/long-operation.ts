import type { Command } from 'commander'
import type { OperationName } from '../api/operations.ts'
import { CancelledError } from '../api/cancel.ts'
import { withCore } from './connect.ts'
import { printJson } from './output.ts'
import { progressBar } from './progress.ts'

export interface LongOptions {
  repo?: string
  json?: boolean
  detach?: boolean
}

/** `--detach` on a long command. */
export function withDetach (cmd: Command): Command {
  return cmd.option('--detach', 'return once the running Core has started it; the Core carries on (drcore events shows how it ends)')
}

/**
 * Runs a long operation the same way with and without the daemon: a progress bar, and Ctrl-C
 * stops the operation in the Core that runs it and says so (`drcore: interrupted: ...`, exit
 * 130); a second Ctrl-C leaves at once. With `--detach` it returns as soon as the running Core
 * has started it (undefined), leaving the Core to carry on. `what` names the work ("the backup of
 * web01"), `stopped` says what a stop leaves behind.
 */
export async function runLong<T = any> (opts: LongOptions, name: OperationName, input: Record<string, unknown>, what: string, stopped: string): Promise<T | undefined> {
  const controller = new AbortController()
  const bar = progressBar(opts.json !== true && opts.detach !== true)
  const onSigint = (): void => {
    if (controller.signal.aborted) {
      process.stderr.write(`drcore: left without waiting: ${what} may still be stopping\n`)
      process.exit(130)
    }
    bar.stop()
    process.stderr.write(`stopping ${what} (Ctrl-C again to leave without waiting)\n`)
    controller.abort()
  }
  process.on('SIGINT', onSigint)
  let result: any
  try {
    result = await withCore(opts.repo, async core => await core.call(name, input, bar.onProgress, { cancel: controller.signal, detach: opts.detach }))
  } catch (err: any) {
    if (err?.name === 'CancelledError') throw new CancelledError(`interrupted: ${what} stopped; ${stopped}`)
    throw err
  } finally {
    process.off('SIGINT', onSigint)
    bar.stop()
  }
  if (controller.signal.aborted) process.stderr.write(`Ctrl-C came too late: ${what} had finished\n`)
  if (result?.detached === true) {
    if (opts.json === true) printJson(result)
    else process.stdout.write(`${what} goes on in the Core (operation ${String(result.operation)}); drcore events shows how it ends\n`)
    return undefined
  }
  return result as T
}
