import { EventEmitter } from 'node:events'
import { SerialQueue } from '../common/serial-queue.ts'
import { jsonSublevel } from '../store/index.ts'
import type { JsonSublevel, RootDb } from '../store/index.ts'
import type { CoreEvent, EventLevel, EventSink } from './api.ts'

const KEEP = 10_000

/**
 * Persistent, append-only event log with live listeners. Writes are queued so `emit` never
 * blocks the caller; `flush()` waits for them (used on stop and in tests).
 */
export class EventLog implements EventSink {
  private readonly events: JsonSublevel<CoreEvent>
  private readonly live = new EventEmitter()
  private seq = 0
  private readonly writes = new SerialQueue()

  constructor (db: RootDb) {
    this.events = jsonSublevel<CoreEvent>(db, 'events')
    this.live.setMaxListeners(0)
  }

  async start (): Promise<void> {
    for await (const key of this.events.keys({ reverse: true, limit: 1 })) this.seq = Number(key)
  }

  emit (type: string, message: string, data: Record<string, unknown> = {}, level: EventLevel = 'info'): void {
    const event: CoreEvent = { seq: ++this.seq, at: new Date().toISOString(), type, level, message, data }
    const key = String(event.seq).padStart(12, '0')
    this.writes.run(async () => {
      await this.events.put(key, event)
      if (event.seq % 1000 === 0) await this.trim()
    }).catch(() => {})
    this.live.emit('event', event)
  }

  /**
   * Live only: delivered to `subscribe` listeners (the console's event stream) but not stored,
   * for frequent updates such as `replication.progress` that would push real events out of the
   * log. Such events carry `seq: 0`.
   */
  publish (type: string, message: string, data: Record<string, unknown> = {}, level: EventLevel = 'info'): void {
    this.live.emit('event', { seq: 0, at: new Date().toISOString(), type, level, message, data } satisfies CoreEvent)
  }

  async list (opts: { since?: number, limit?: number } = {}): Promise<CoreEvent[]> {
    await this.writes.settled()
    const out: CoreEvent[] = []
    // a range option that is present but undefined matches nothing in abstract-level: leave it out
    const range = opts.since != null ? { gt: String(opts.since).padStart(12, '0') } : { reverse: true }
    for await (const value of this.events.values({ ...range, limit: opts.limit ?? 100 })) out.push(value)
    return opts.since == null ? out.reverse() : out
  }

  /** calls `listener` for every new event until the returned function is called */
  subscribe (listener: (event: CoreEvent) => void): () => void {
    this.live.on('event', listener)
    return () => { this.live.off('event', listener) }
  }

  async flush (): Promise<void> {
    await this.writes.settled()
  }

  private async trim (): Promise<void> {
    const lt = String(this.seq - KEEP).padStart(12, '0')
    await this.events.clear({ lt })
  }
}
