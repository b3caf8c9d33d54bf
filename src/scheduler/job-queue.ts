import type { Slot } from './slot.ts'

/**
 * Jobs asked for, waiting for one of `concurrency` places, first come first served, and the
 * count of jobs running. `now` starts a job past the limit: it counts as running all the same.
 */
export class JobQueue {
  readonly #waiting: Slot[] = []
  readonly #concurrency: number
  #running = 0

  constructor (concurrency: number) {
    this.#concurrency = concurrency
  }

  /** jobs running or waiting for a place */
  get busy (): boolean {
    return this.#running > 0 || this.#waiting.length > 0
  }

  /** Queues the slot's job; false when it is queued or running already. */
  add (slot: Slot): boolean {
    if (slot.queued || slot.job != null) return false
    slot.queued = true
    this.#waiting.push(slot)
    return true
  }

  remove (slot: Slot): void {
    if (!slot.queued) return
    slot.queued = false
    this.#waiting.splice(this.#waiting.indexOf(slot), 1)
  }

  clear (): void {
    for (const slot of this.#waiting) slot.queued = false
    this.#waiting.length = 0
  }

  /** The next slot whose job may start now, when a place is free. */
  next (): Slot | undefined {
    if (this.#running >= this.#concurrency) return undefined
    const slot = this.#waiting.shift()
    if (slot != null) slot.queued = false
    return slot
  }

  started (): void {
    this.#running++
  }

  ended (): void {
    this.#running--
  }
}
