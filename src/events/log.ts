import { SerialQueue } from '../common/serial-queue.ts'
import { messageWithCauses } from '../errors.ts'
import { jsonSublevel } from '../store/index.ts'
import type { JsonSublevel, RootDb } from '../store/index.ts'
import type { AnyEventType, CoreEvent, CoreEventOf, EventLevel, EventMap, EventSink, EventSource, EventType, LiveEventMap, LiveEventSink, LiveEventType } from './api.ts'

const KEEP = 10_000

export interface EventLogOptions {
  /**
   * Where the log tells that it could not store an event (once per run of failures), or that a
   * listener failed: one line each. Default: the process's stderr, which the daemon's service
   * manager keeps.
   */
  warn?: (line: string) => void
}

interface Listener {
  /** undefined: every event */
  readonly type: AnyEventType | undefined
  readonly fn: (event: CoreEvent) => void
}

/**
 * Persistent, append-only event log with live listeners. Writes are queued so `emit` never
 * blocks the caller; `flush()` waits for them (used on stop and in tests).
 *
 * Neither a failed write nor a failing listener reaches the code that emitted: an event log
 * that cannot write must not fail a backup. A failed write is counted (`writeFailures`, shown
 * by /metrics) and told on stderr with its reason, once per run of failures (the first; the
 * run ends when a write succeeds again), so a full disk yields one line, not one per event.
 */
export class EventLog implements EventSink, LiveEventSink, EventSource {
  private readonly events: JsonSublevel<CoreEvent>
  readonly #listeners = new Set<Listener>()
  readonly #warn: (line: string) => void
  private seq = 0
  private readonly writes = new SerialQueue()
  #writeFailures = 0
  /** a write failed and none succeeded since: the next failure is not told again */
  #failing = false

  constructor (db: RootDb, options: EventLogOptions = {}) {
    this.events = jsonSublevel<CoreEvent>(db, 'events')
    this.#warn = options.warn ?? (line => { process.stderr.write(`drcore: ${line}\n`) })
  }

  async start (): Promise<void> {
    for await (const key of this.events.keys({ reverse: true, limit: 1 })) this.seq = Number(key)
  }

  /** Writes to the log that failed since it was opened: events not stored, or old ones not trimmed. */
  get writeFailures (): number {
    return this.#writeFailures
  }

  emit<T extends EventType> (type: T, message: string, data: EventMap[T], level: EventLevel = 'info'): void {
    const event = { seq: ++this.seq, at: new Date().toISOString(), type, level, message, data } as CoreEventOf<T> as CoreEvent
    const key = String(event.seq).padStart(12, '0')
    // the queued write handles its own failure (counted and told), so the promise never rejects
    void this.writes.run(async () => {
      try {
        await this.events.put(key, event)
      } catch (err) {
        this.#writeFailed(`could not store event ${event.seq} (${type})`, err)
        return
      }
      this.#failing = false
      if (event.seq % 1000 === 0) {
        try {
          await this.trim()
        } catch (err) {
          this.#writeFailed('could not remove its oldest events', err)
        }
      }
    })
    this.#deliver(event)
  }

  /**
   * Live only: delivered to listeners (the console's event stream) but not stored, for frequent
   * updates such as `replication.progress` that would push real events out of the log. Such
   * events carry `seq: 0`.
   */
  publish<T extends LiveEventType> (type: T, message: string, data: LiveEventMap[T], level: EventLevel = 'info'): void {
    this.#deliver({ seq: 0, at: new Date().toISOString(), type, level, message, data } as CoreEventOf<T> as CoreEvent)
  }

  async list (opts: { since?: number, limit?: number } = {}): Promise<CoreEvent[]> {
    await this.writes.settled()
    const out: CoreEvent[] = []
    // a range option that is present but undefined matches nothing in abstract-level: leave it out
    const range = opts.since != null ? { gt: String(opts.since).padStart(12, '0') } : { reverse: true }
    for await (const value of this.events.values({ ...range, limit: opts.limit ?? 100 })) out.push(value)
    return opts.since == null ? out.reverse() : out
  }

  /** Calls `listener` for every new event of type `type`, until the returned function is called. */
  on<T extends AnyEventType> (type: T, listener: (event: CoreEventOf<T>) => void): () => void {
    return this.#listen({ type, fn: listener as (event: CoreEvent) => void })
  }

  /** Calls `listener` for every new event, until the returned function is called. */
  subscribe (listener: (event: CoreEvent) => void): () => void {
    return this.#listen({ type: undefined, fn: listener })
  }

  /** Waits for the queued writes; never rejects (a failed write is counted, not thrown). */
  async flush (): Promise<void> {
    await this.writes.settled()
  }

  private async trim (): Promise<void> {
    const lt = String(this.seq - KEEP).padStart(12, '0')
    await this.events.clear({ lt })
  }

  #listen (listener: Listener): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  #deliver (event: CoreEvent): void {
    for (const listener of [...this.#listeners]) {
      if (listener.type !== undefined && listener.type !== event.type) continue
      try {
        listener.fn(event)
      } catch (err) {
        this.#warn(`a listener of event ${event.type} failed: ${(err as Error)?.stack ?? String(err)}`)
      }
    }
  }

  #writeFailed (what: string, err: unknown): void {
    this.#writeFailures++
    if (this.#failing) return
    this.#failing = true
    const reason = messageWithCauses(err)
    this.#warn(`the event log ${what}: ${reason}; the Core goes on without storing events, counting each one it could not store (drcore_event_log_write_failures_total in /metrics) until a write succeeds again`)
  }
}
