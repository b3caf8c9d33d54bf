import type { Command } from 'commander'
import { UsageError } from '../errors.ts'

/** Options every command takes. */
export interface CommonOptions {
  repo?: string
  json?: boolean
}

export function withCommonOptions (cmd: Command, json = true): Command {
  cmd.option('--repo <dir>', 'repository directory (default: $DRCORE_REPO, else ~/.drcore)')
  if (json) cmd.option('--json', 'print JSON for scripts')
  return cmd
}

/** `latest` or a point id; undefined means latest */
export function pointOption (value: string | undefined): string | undefined {
  return value === undefined || value === 'latest' ? undefined : value
}

export function collect (value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

export function requireValue (value: string | undefined, what: string): string {
  if (value == null || value === '') throw new UsageError(`missing ${what}`)
  return value
}
