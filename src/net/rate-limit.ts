/**
 * Token buckets per key: each key may act `limit` times in a burst, and regains one action every
 * `intervalMs / limit`. Used to bound what unknown peers can make a Core do (pairing requests
 * land on disk and in the operator's pending list).
 */
export class RateLimiter {
  readonly #limit: number
  readonly #refillMs: number
  readonly #now: () => number
  readonly #buckets = new Map<string, { tokens: number, at: number }>()
  readonly #maxKeys: number

  constructor (options: { limit: number, intervalMs: number, now?: () => number, maxKeys?: number }) {
    if (!(options.limit >= 1) || !(options.intervalMs > 0)) throw new RangeError('a rate limit needs limit >= 1 and intervalMs > 0')
    this.#limit = options.limit
    this.#refillMs = options.intervalMs / options.limit
    this.#now = options.now ?? Date.now
    this.#maxKeys = options.maxKeys ?? 10_000
  }

  /** Counts one action for `key`; false when its bucket is empty (the action is refused). */
  take (key: string): boolean {
    const now = this.#now()
    const bucket = this.#buckets.get(key) ?? { tokens: this.#limit, at: now }
    bucket.tokens = Math.min(this.#limit, bucket.tokens + (now - bucket.at) / this.#refillMs)
    bucket.at = now
    if (bucket.tokens < 1) {
      this.#buckets.set(key, bucket)
      return false
    }
    bucket.tokens -= 1
    this.#buckets.set(key, bucket)
    if (this.#buckets.size > this.#maxKeys) this.#prune(now)
    return true
  }

  /** Forgets keys whose bucket has refilled (they behave as new), then the oldest if still too many. */
  #prune (now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + (now - bucket.at) / this.#refillMs >= this.#limit) this.#buckets.delete(key)
    }
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size <= this.#maxKeys) break
      this.#buckets.delete(key)
    }
  }
}
