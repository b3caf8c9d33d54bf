import type { CID } from 'multiformats/cid'

/**
 * Reads blocks in order with up to `depth` reads in flight, so decompressing and rehashing the
 * next blocks overlaps sending the current one. Yields `{cid, bytes}` in the order of `cids`.
 */
export async function * readAhead<T> (cids: CID[], read: (cid: CID, index: number) => Promise<T>, depth = 8): AsyncGenerator<{ cid: CID, bytes: T }> {
  const queue: Array<Promise<T>> = []
  let next = 0
  const start = (): void => {
    const reading = read(cids[next], next)
    next++
    // awaited below in order; a consumer that stops early must not leave a rejection unhandled
    reading.catch(() => {})
    queue.push(reading)
  }
  while (next < cids.length && queue.length < depth) start()
  for (let i = 0; i < cids.length; i++) {
    const bytes = await queue.shift()!
    if (next < cids.length) start()
    yield { cid: cids[i], bytes }
  }
}
