/**
 * Runs async functions one at a time, in the order they were queued: the one promise-chain
 * mutex of drcore. A failure is its caller's alone: the next function runs as if the previous
 * one had succeeded.
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve()

  run<T> (fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn, fn)
    this.#tail = result.catch(() => {})
    return result
  }

  /** Resolves once every function queued so far has settled (it never rejects). */
  async settled (): Promise<void> {
    await this.#tail
  }
}
