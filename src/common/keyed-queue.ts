/**
 * Runs async functions one at a time per key, in the order they were queued; different keys run
 * independently. A failure is its caller's alone: the next function of the key runs as if the
 * previous one had succeeded. A key is forgotten once its last function has settled.
 */
export class KeyedSerialQueue {
  readonly #tails = new Map<string, Promise<unknown>>()

  async run<T> (key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve()
    const next = previous.then(fn, fn)
    const settled = next.then(() => {}, () => {})
    this.#tails.set(key, settled)
    void settled.then(() => { if (this.#tails.get(key) === settled) this.#tails.delete(key) })
    return await next
  }
}
