import { setTimeout as sleep } from 'node:timers/promises'

/**
 * A token bucket for `--limit`: `take(n)` returns once n bytes may go out at `rate` bytes per
 * second. The bucket starts empty and holds at most `burstMs` worth of tokens, so the rate over
 * any stretch longer than that stays at the limit; a take larger than the bucket goes into debt
 * and waits it off (a 1 MiB block under a 100 KiB/s limit waits about 10 s).
 */
export class TokenBucket {
  readonly rate: number
  readonly #capacity: number
  #tokens = 0
  #last = performance.now()

  constructor (rate: number, options: { burstMs?: number } = {}) {
    if (!(rate > 0)) throw new RangeError(`a rate limit must be positive, got ${rate}`)
    this.rate = rate
    this.#capacity = rate * (options.burstMs ?? 100) / 1000
  }

  async take (bytes: number, signal?: AbortSignal): Promise<void> {
    const now = performance.now()
    this.#tokens = Math.min(this.#capacity, this.#tokens + (now - this.#last) * this.rate / 1000)
    this.#last = now
    this.#tokens -= bytes
    if (this.#tokens < 0) await sleep(Math.ceil(-this.#tokens * 1000 / this.rate), undefined, { signal })
  }
}
