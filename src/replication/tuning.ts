import { InvalidInputError } from '../errors.ts'
import type { EngineOptions } from './api.ts'

/**
 * Overrides the replication engine's tunables of a daemon, e.g.
 * `DRCORE_REPLICATION_TUNING=batchSize=8,flushBytes=4194304` (tests that need small, known
 * windows; the defaults suit production).
 */
export const REPLICATION_TUNING_ENV = 'DRCORE_REPLICATION_TUNING'

const KEYS: ReadonlyArray<keyof EngineOptions> = ['flushBytes', 'flushIntervalMs', 'batchSize', 'pipeline', 'timeout', 'ackTimeout']

/** Parses `key=integer,...`; empty or unset is no override; anything else is a one-line `InvalidInputError`. */
export function parseReplicationTuning (text: string | undefined): EngineOptions {
  const options: EngineOptions = {}
  if (text == null || text.trim() === '') return options
  for (const part of text.split(',')) {
    const m = /^\s*(\w+)\s*=\s*(\d+)\s*$/.exec(part)
    const key = m?.[1] as keyof EngineOptions | undefined
    if (m == null || key === undefined || !KEYS.includes(key) || Number(m[2]) < 1) {
      throw new InvalidInputError(`${REPLICATION_TUNING_ENV}: "${part.trim()}" is not a setting; use key=integer (at least 1), with keys ${KEYS.join(', ')}`)
    }
    options[key] = Number(m[2])
  }
  return options
}
