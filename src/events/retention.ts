/**
 * The events of retention, tenant locks and quotas (docs/retention.md), in one place: their
 * payloads are entries of the Core's typed event map (events/api.ts); `emitRetentionEvent`
 * emits one, so a payload that does not match its type does not compile.
 */
import type { EventLevel, EventMap, EventSink } from './api.ts'

export type { PolicyView } from './api.ts'

export type RetentionEventType = 'retention.rollup' | 'retention.forget' | 'retention.failed' | 'retention.policy-set' |
  'tenant.changed' | 'tenant.quota-exceeded' | 'tenant.delete-refused' | 'replication.remote-delete-refused'

export type RetentionEvents = Pick<EventMap, RetentionEventType>

export function emitRetentionEvent<T extends RetentionEventType> (sink: EventSink, type: T, message: string, data: EventMap[T], level: EventLevel = 'info'): void {
  sink.emit(type, message, data, level)
}
