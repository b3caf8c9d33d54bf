import type { Handlers } from '../../api/handler.ts'
import type { PairingOperations, PeerInfo } from '../../peers/index.ts'
import { NotFoundError } from '../../errors.ts'

/**
 * The peer operations. A running Core gives its `PairingService`, which also tells the peer; a
 * Core without the network gives `OfflinePairing`, which records decisions for the daemon to
 * deliver when it starts.
 */
export function peerHandlers (pairing: PairingOperations) {
  return {
    peers: async () => pairing.list(),
    peerRequests: async () => pairing.requests(),
    peerAdd: async input => await pairing.request(input.address, { name: input.name }),
    peerApprove: async input => await pairing.approve(input.peer, { tenant: input.tenant }),
    peerDeny: async input => await pairing.deny(input.peer),
    peerIgnore: async input => {
      const info = findInfo(pairing, input.peer)
      await pairing.ignore(input.peer)
      return { peerId: info?.peerId ?? input.peer, name: info?.name ?? null, ignored: true }
    },
    peerAllow: async input => await pairing.allow(input.peerId, { name: input.name, tenant: input.tenant, address: input.address }),
    peerRemove: async input => await pairing.remove(input.peer),
    peerSet: async input => input.name != null ? await pairing.rename(input.peer, input.name) : infoOf(pairing, input.peer),
    peerRemoveAddress: async input => await pairing.removeAddress(input.peer, input.address)
  } satisfies Pick<Handlers, 'peers' | 'peerRequests' | 'peerAdd' | 'peerApprove' | 'peerDeny' | 'peerIgnore' | 'peerAllow' | 'peerRemove' | 'peerSet' | 'peerRemoveAddress'>
}

/** A peer as listed, by peer id or name, if this Core knows it. */
function findInfo (pairing: PairingOperations, peer: string): PeerInfo | undefined {
  const peers = pairing.list()
  return peers.find(p => p.peerId === peer) ?? peers.find(p => p.name === peer)
}

/** A peer as listed, by peer id or name. */
function infoOf (pairing: PairingOperations, peer: string): PeerInfo {
  const info = findInfo(pairing, peer)
  if (info == null) throw new NotFoundError(`unknown peer: ${peer}`)
  return info
}
