/**
 * Waiting in tests and benchmarks: for a free port, for a condition, for time. The one copy of
 * each; test/support/core.ts and daemon.ts, the tests and the benchmarks use these.
 */
import { createServer } from 'node:net'

/** A port nobody listens on right now (127.0.0.1). */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/**
 * Polls `probe` until `done` holds for its value (every `everyMs`, up to `ms`); returns that
 * value. A probe that throws is tried again; the last value and error are in the timeout's message.
 */
export async function waitFor<T> (what: string, probe: () => Promise<T>, done: (value: T) => boolean, ms = 60_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + ms
  let last: T | undefined
  let lastError: unknown
  for (;;) {
    try {
      last = await probe()
      if (done(last)) return last
    } catch (err) {
      lastError = err
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)?.slice(0, 2000)}${lastError != null ? `; error: ${String(lastError)}` : ''}`)
    }
    await sleep(everyMs)
  }
}

/** Polls `condition` every 10 ms until it holds; fails after `ms`. */
export async function until (condition: () => boolean, ms = 5000): Promise<void> {
  await waitFor(`${condition.toString()} (within ${ms} ms)`, async () => condition(), holds => holds, ms, 10)
}
