/**
 * Points an operation in progress is about to read, kept from garbage collection while it runs
 * (docs/retention.md, "Garbage collection"). `seed create` pins the points it writes: a point
 * forgotten while its seed is being written keeps its blocks until the seed is done.
 *
 * A pin is in memory: it lives as long as the operation, in the one process that holds the
 * repository's lock (the daemon, or the CLI without it), which is also the only process that
 * can prune. A collection reads the point index first and the pins after, so a point pinned
 * after its records were read must still have its record when the pinning operation checks
 * (see `pinPresent` in src/core/handlers/seed.ts): then the collection saw it in the index.
 */
export class PointPins {
  /** point id -> how many operations pin it */
  readonly #pins = new Map<string, number>()

  /** Pins `points` until the returned function is called (once is enough; more is harmless). */
  pin (points: Iterable<string>): () => void {
    const ids = [...points]
    for (const id of ids) this.#pins.set(id, (this.#pins.get(id) ?? 0) + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      for (const id of ids) {
        const n = (this.#pins.get(id) ?? 1) - 1
        if (n <= 0) this.#pins.delete(id)
        else this.#pins.set(id, n)
      }
    }
  }

  /** The points pinned now. */
  pinned (): string[] {
    return [...this.#pins.keys()]
  }
}
