/** Replication jobs running at once on a Core (jobs started with `replication now` may exceed it). */
export const DEFAULT_CONCURRENCY = 2

/** Waits before retrying a failed job: the first retry, the second, then every further one. */
export const DEFAULT_RETRY_DELAYS_MS = [30_000, 120_000, 600_000]

/** Overrides the retry delays, e.g. `DRCORE_RETRY_DELAYS=500ms,2s,1m` (tests, impatient labs). */
export const RETRY_DELAYS_ENV = 'DRCORE_RETRY_DELAYS'

/** The longest setTimeout Node honours; longer waits are re-armed in steps. */
export const MAX_TIMER_MS = 2 ** 31 - 1

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** Parses a list of durations (`500ms,30s,2m,1h`); undefined when unset or not valid. */
export function parseDelays (text: string | undefined): number[] | undefined {
  if (text == null || text.trim() === '') return undefined
  const delays: number[] = []
  for (const part of text.split(',')) {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(part)
    if (m == null) return undefined
    delays.push(Math.round(Number(m[1]) * UNIT_MS[m[2]]))
  }
  return delays
}
