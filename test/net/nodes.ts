/** Test support: real libp2p nodes on 127.0.0.1 with a trust table the test controls. */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createNode } from '../../src/net/index.ts'
import type { DrcoreNode, PeerTrust } from '../../src/net/index.ts'
import type { EventSink, EventLevel } from '../../src/events/api.ts'

export class TrustTable implements PeerTrust {
  readonly accepted = new Set<string>()
  readonly denied = new Set<string>()
  isDenied (peerId: string): boolean { return this.denied.has(peerId) }
  isAccepted (peerId: string): boolean { return this.accepted.has(peerId) && !this.denied.has(peerId) }
}

export interface RecordedEvent { type: string, message: string, data: Record<string, unknown>, level: EventLevel }

export class RecordingSink implements EventSink {
  readonly events: RecordedEvent[] = []
  emit (type: string, message: string, data: Record<string, unknown> = {}, level: EventLevel = 'info'): void {
    this.events.push({ type, message, data, level })
  }

  ofType (type: string): RecordedEvent[] {
    return this.events.filter(e => e.type === type)
  }
}

export async function startNode (trust: PeerTrust = new TrustTable(), events?: EventSink): Promise<DrcoreNode> {
  return await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], trust, events })
}
