/** The wait before retry number `attempt` (1 for the first): the delays in order, the last repeating. */
export function retryDelay (delays: readonly number[], attempt: number): number {
  return delays[Math.min(attempt, delays.length) - 1]
}

/** A delay as the retry event tells it: `500 ms`, `30 s`, `10 min`. */
export function formatDelay (ms: number): string {
  if (ms < 1000) return `${ms} ms`
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`
  return `${Math.round(ms / 60_000)} min`
}
