/**
 * Maps an async sequence through `fn` with up to `depth` calls in flight, yielding results in
 * the source's order. A failed call surfaces when its turn comes; the source is closed when the
 * consumer stops early.
 */
export async function * readAhead<T, R> (source: AsyncIterable<T>, fn: (item: T) => Promise<R>, depth: number): AsyncGenerator<R> {
  const iterator = source[Symbol.asyncIterator]()
  const queue: Array<Promise<R>> = []
  let exhausted = false
  try {
    while (true) {
      while (!exhausted && queue.length < depth) {
        const next = await iterator.next()
        if (next.done === true) {
          exhausted = true
          break
        }
        const result = fn(next.value)
        result.catch(() => {}) // awaited in turn below
        queue.push(result)
      }
      const head = queue.shift()
      if (head === undefined) return
      yield await head
    }
  } finally {
    if (!exhausted) await iterator.return?.()
  }
}
