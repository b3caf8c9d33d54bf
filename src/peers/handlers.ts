import type { Handlers, CoreParts } from '../core.ts'
import { toPeerInfo } from './record.ts'

/**
 * The peer operations. With the network running (daemon), they go through the pairing service,
 * which also tells the peer; without it, decisions are recorded in the registry and delivered
 * when the daemon starts.
 */
export function peerHandlers (core: CoreParts): Handlers {
  const online = (id: string): boolean => core.node?.isOnline(id) ?? false
  return {
    peers: async () => core.pairing?.list() ?? core.peers.list(),
    peerRequests: async () => core.pairing?.requests() ?? core.peers.requests(),
    peerAdd: async input => {
      if (core.pairing == null) throw new Error('peerAdd needs the network')
      return await core.pairing.request(input.address, { name: input.name })
    },
    peerApprove: async input => core.pairing != null
      ? await core.pairing.approve(input.peer, { tenant: input.tenant })
      : toPeerInfo(await core.peers.approve(input.peer, { tenant: input.tenant }), false),
    peerDeny: async input => core.pairing != null
      ? await core.pairing.deny(input.peer)
      : toPeerInfo(await core.peers.deny(input.peer), false),
    peerIgnore: async input => {
      if (core.pairing != null) await core.pairing.ignore(input.peer)
      else await core.peers.ignore(input.peer)
      return { ignored: input.peer }
    },
    peerAllow: async input => {
      const options = { name: input.name, tenant: input.tenant, address: input.address }
      if (core.pairing != null) return await core.pairing.allow(input.peerId, options)
      const record = await core.peers.allow(input.peerId, options)
      return toPeerInfo(record, online(record.peerId))
    },
    peerRemove: async input => core.pairing != null
      ? await core.pairing.remove(input.peer)
      : toPeerInfo(await core.peers.remove(input.peer), false)
  }
}
