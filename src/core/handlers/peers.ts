import type { Handlers } from '../../api/handler.ts'
import type { PairingOperations } from '../../peers/index.ts'

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
      await pairing.ignore(input.peer)
      return { ignored: input.peer }
    },
    peerAllow: async input => await pairing.allow(input.peerId, { name: input.name, tenant: input.tenant, address: input.address }),
    peerRemove: async input => await pairing.remove(input.peer)
  } satisfies Pick<Handlers, 'peers' | 'peerRequests' | 'peerAdd' | 'peerApprove' | 'peerDeny' | 'peerIgnore' | 'peerAllow' | 'peerRemove'>
}
