import type { PeerNamer } from '../../api/peer-ref.ts'
import type { PeerRegistry } from '../../peers/index.ts'
import type { RepositoryFiles } from '../../repo/index.ts'

/**
 * Names peers as every result and listing shows them (api/peer-ref.ts): this Core by its own
 * name, a peer by the name the operator gave it, read at the moment of the call so that a rename
 * shows at once.
 */
export function peerNamer (core: { readonly files: Pick<RepositoryFiles, 'peerId' | 'config'>, readonly peers: Pick<PeerRegistry, 'get'> }): PeerNamer {
  const self = core.files.peerId.toString()
  return peerId => ({ peerId, name: peerId === self ? core.files.config.name : core.peers.get(peerId)?.name ?? null })
}
