/**
 * Bounded concurrency with results in input order: the two shapes the services need.
 * `mapLimit` for a list whose results are wanted together, `readAhead` for a sequence consumed
 * one result at a time, where the next calls should already run while the consumer works.
 */

/**
 * Calls `fn` on every item with at most `limit` calls in flight (a new one starts as soon as
 * one ends) and resolves to the results in input order. The first failure rejects.
 */
export async function mapLimit<T, R> (items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  if (!(limit >= 1)) throw new RangeError(`mapLimit needs a limit of at least 1, got ${limit}`)
  const results: R[] = new Array(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i], i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

/**
 * Maps a sequence through `fn` with up to `depth` calls in flight while the consumer handles a
 * result, yielding the results in the order of `source`. A failed call surfaces when its turn
 * comes. When the consumer stops early or a call fails, the generator closes `source` and waits
 * for the calls still in flight to settle, so none of them runs on after it has returned.
 */
export async function * readAhead<T, R> (source: Iterable<T> | AsyncIterable<T>, depth: number, fn: (item: T, index: number) => Promise<R>): AsyncGenerator<R> {
  if (!(depth >= 1)) throw new RangeError(`readAhead needs a depth of at least 1, got ${depth}`)
  const iterator: Iterator<T> | AsyncIterator<T> = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]()
  const inFlight: Array<Promise<R>> = []
  let index = 0
  let exhausted = false
  const fill = async (): Promise<void> => {
    while (!exhausted && inFlight.length < depth) {
      const next = await iterator.next()
      if (next.done === true) {
        exhausted = true
        return
      }
      const result = fn(next.value, index++)
      result.catch(() => {}) // awaited in turn; one the consumer never takes must not go unhandled
      inFlight.push(result)
    }
  }
  try {
    await fill()
    while (inFlight.length > 0) {
      const result = await inFlight.shift()!
      await fill()
      yield result
    }
  } finally {
    await Promise.allSettled(inFlight)
    if (!exhausted) await iterator.return?.()
  }
}
