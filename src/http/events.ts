import type { CoreEvent } from '../events/api.ts'
import type { EventLog } from '../events/log.ts'

/** A comment line this often keeps proxies and the browser from closing an idle stream. */
const HEARTBEAT_MS = 15_000
/** What the browser waits before reconnecting (the SSE `retry` field). */
const RETRY_MS = 2_000
/** Most stored events replayed on one (re)connection. */
const REPLAY_LIMIT = 1000

/**
 * Server-sent events for `GET /api/v1/events/stream`: every new event of the Core's log, as
 * `id: <seq>` and `data: <event as JSON>`. On reconnect the browser sends
 * `Last-Event-ID` and the stored events after it are replayed first, so the console misses
 * nothing while the connection was down. Live-only events (`seq` 0, e.g. `replication.progress`)
 * carry no id, so they do not move the replay position.
 *
 * `closeAll()` ends every open stream and refuses new ones: the HTTP server cannot stop while
 * one is open.
 */
export class EventStreams {
  readonly #log: EventLog
  readonly #open = new Set<() => void>()
  #closed = false

  constructor (log: EventLog) {
    this.#log = log
  }

  get size (): number {
    return this.#open.size
  }

  /** A streaming response replaying events after `since` (when given), then live events. */
  response (since: number | undefined, signal?: AbortSignal): Response {
    if (this.#closed) return new Response('the Core is stopping\n', { status: 503, headers: { 'retry-after': '2' } })
    const encoder = new TextEncoder()
    const log = this.#log
    const open = this.#open
    let close = (): void => {}
    const stream = new ReadableStream<Uint8Array>({
      start (controller) {
        let closed = false
        let lastSeq = since ?? 0
        let replaying = since !== undefined
        const held: CoreEvent[] = []
        const write = (text: string): void => {
          if (closed) return
          try {
            controller.enqueue(encoder.encode(text))
          } catch {
            close()
          }
        }
        const send = (e: CoreEvent): void => {
          if (e.seq > 0) {
            if (e.seq <= lastSeq) return
            lastSeq = e.seq
          }
          write(formatEvent(e))
        }
        const unsubscribe = log.subscribe(e => { if (replaying) held.push(e); else send(e) })
        const heartbeat = setInterval(() => write(': ping\n\n'), HEARTBEAT_MS)
        heartbeat.unref()
        close = () => {
          if (closed) return
          closed = true
          unsubscribe()
          clearInterval(heartbeat)
          open.delete(close)
          try { controller.close() } catch {}
        }
        open.add(close)
        signal?.addEventListener('abort', close, { once: true })
        write(`retry: ${RETRY_MS}\n: connected\n\n`)
        if (replaying) {
          log.list({ since, limit: REPLAY_LIMIT }).then(stored => {
            for (const e of stored) send(e)
          }, () => {}).finally(() => {
            replaying = false
            for (const e of held.splice(0)) send(e)
          })
        }
      },
      cancel () { close() }
    })
    return new Response(stream, {
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no'
      }
    })
  }

  /** Ends every open stream and refuses new ones (the server is stopping). */
  closeAll (): void {
    this.#closed = true
    for (const close of [...this.#open]) close()
  }
}

/**
 * One SSE message. No `event:` field: a browser delivers unnamed messages to `onmessage`, and the
 * event's type is in its JSON. JSON has no raw newlines, so `data` is one line.
 */
export function formatEvent (e: CoreEvent): string {
  const id = e.seq > 0 ? `id: ${e.seq}\n` : ''
  return `${id}data: ${JSON.stringify(e)}\n\n`
}
