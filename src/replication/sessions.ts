/** What the sessions of the replication protocols share, servers and clients alike. */
import type { WireStream } from '../net/index.ts'
import type { Message } from '../protocol/index.ts'
import type { EngineMetrics } from './api.ts'

/**
 * The tenant whose points an approved peer reaches here (its own), or undefined when this Core
 * has not approved it. Every server of the replication protocols starts from this: what a peer
 * may see depends on it.
 */
export function approvedTenant (peers: { isAccepted: (peerId: string) => boolean, tenantOf: (peerId: string) => string | undefined }, peer: string): string | undefined {
  const tenant = peers.isAccepted(peer) ? peers.tenantOf(peer) : undefined
  return tenant === '' ? undefined : tenant
}

/** Counts a message sent on a replication stream, by type (`EngineMetrics.messagesSent`). */
export function countSent (metrics: EngineMetrics, type: Message['type']): void {
  metrics.messagesSent[type] = (metrics.messagesSent[type] ?? 0) + 1
}

/** Sends on `wire`, counting every message sent. */
export function countedSend (wire: Pick<WireStream, 'send'>, metrics: EngineMetrics): (message: Message) => Promise<void> {
  return async message => {
    countSent(metrics, message.type)
    await wire.send(message)
  }
}
