/**
 * Tells when the scheduler has nothing to do: no job running or queued (`jobsBusy`) and no
 * trigger being decided. Trigger handling reads the store, so it runs in the background, counted
 * here; `idle()` (tests, and a Core that waits for its jobs) resolves once all is quiet.
 */
export class Quiescence {
  readonly #jobsBusy: () => boolean
  readonly #waiters: Array<() => void> = []
  #deciding = 0

  constructor (jobsBusy: () => boolean) {
    this.#jobsBusy = jobsBusy
  }

  get busy (): boolean {
    return this.#deciding > 0 || this.#jobsBusy()
  }

  /** Runs `work`, counted as deciding until it settles; a failure goes to `failed`. */
  run (work: () => Promise<void>, failed: (err: unknown) => void): void {
    this.#deciding++
    work().catch(failed).finally(() => {
      this.#deciding--
      this.settle()
    })
  }

  /** Resolves when nothing runs, nothing is queued and nothing is being decided. */
  async idle (): Promise<void> {
    while (this.busy) await new Promise<void>(resolve => this.#waiters.push(resolve))
  }

  /** Wakes the `idle()` callers when all is quiet; call after anything that may end the work. */
  settle (): void {
    if (!this.busy) for (const resolve of this.#waiters.splice(0)) resolve()
  }
}
