/** Test support: real libp2p nodes on 127.0.0.1 with a trust table the test controls. */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createNode } from '../../src/net/index.ts'
import type { DrcoreNode, PeerTrust } from '../../src/net/index.ts'
import type { EventLevel, EventMap, EventSink, EventType } from '../../src/events/api.ts'

export class TrustTable implements PeerTrust {
  readonly accepted = new Set<string>()
  readonly denied = new Set<string>()
  isDenied (peerId: string): boolean { return this.denied.has(peerId) }
  isAccepted (peerId: string): boolean { return this.accepted.has(peerId) && !this.denied.has(peerId) }
}

export interface RecordedEvent<T extends EventType = EventType> { type: T, message: string, data: EventMap[T], level: EventLevel }

export class RecordingSink implements EventSink {
  readonly events: RecordedEvent[] = []
  emit<T extends EventType> (type: T, message: string, data: EventMap[T], level: EventLevel = 'info'): void {
    this.events.push({ type, message, data, level })
  }

  ofType<T extends EventType> (type: T): Array<RecordedEvent<T>> {
    return this.events.filter(e => e.type === type) as Array<RecordedEvent<T>>
  }
}

export async function startNode (trust: PeerTrust = new TrustTable(), events?: EventSink): Promise<DrcoreNode> {
  return await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], trust, events })
}
