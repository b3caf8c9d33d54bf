import type { CoreConnection } from './connect.ts'
import { shortId } from './output.ts'

/**
 * How the text output names a peer id: the name this Core's operator gave it, `this Core` for
 * its own, else the shortened id. (`--json` keeps the ids, with names beside where a row has one.)
 */
export async function peerNamer (core: CoreConnection): Promise<(peerId: string | null | undefined) => string> {
  const [peers, self] = await Promise.all([core.call('peers') as Promise<Array<{ peerId: string, name: string | null }>>, core.call('id') as Promise<{ peerId: string }>])
  const names = new Map(peers.flatMap(p => p.name != null ? [[p.peerId, p.name] as const] : []))
  return peerId => peerId == null ? '-' : peerId === self.peerId ? 'this Core' : names.get(peerId) ?? shortId(peerId)
}
