import { toPeerInfo } from './record.ts'
import type { PeerInfo } from './record.ts'
import type { PeerRegistry } from './registry.ts'

/**
 * The operator's side of pairing, as the peer operations (`peers`, `peerAdd`, `peerApprove` ...
 * in api/operations.ts) use it. A running Core answers with `PairingService`, which also tells
 * the peer; a Core without the network with `OfflinePairing`.
 */
export interface PairingOperations {
  list (): PeerInfo[]
  requests (): PeerInfo[]
  request (address: string, options?: { name?: string }): Promise<PeerInfo>
  approve (peer: string, options?: { tenant?: string }): Promise<PeerInfo>
  deny (peer: string): Promise<PeerInfo>
  ignore (peer: string): Promise<void>
  allow (peerId: string, options?: { name?: string, tenant?: string, address?: string }): Promise<PeerInfo>
  remove (peer: string): Promise<PeerInfo>
  rename (peer: string, name: string): Promise<PeerInfo>
  removeAddress (peer: string, address: string): Promise<PeerInfo>
}

/**
 * Pairing without a running node (the CLI on a stopped Core): decisions are recorded in the
 * registry and delivered when the daemon starts; no peer is online; a request cannot be sent.
 */
export class OfflinePairing implements PairingOperations {
  readonly #registry: PeerRegistry

  constructor (registry: PeerRegistry) {
    this.#registry = registry
  }

  list (): PeerInfo[] {
    return this.#registry.list()
  }

  requests (): PeerInfo[] {
    return this.#registry.requests()
  }

  async request (): Promise<PeerInfo> {
    // the CLI refuses peerAdd before it gets here (an online operation, api/operations.ts)
    throw new Error('peerAdd needs the network')
  }

  async approve (peer: string, options: { tenant?: string } = {}): Promise<PeerInfo> {
    return toPeerInfo(await this.#registry.approve(peer, options), false)
  }

  async deny (peer: string): Promise<PeerInfo> {
    return toPeerInfo(await this.#registry.deny(peer), false)
  }

  async ignore (peer: string): Promise<void> {
    await this.#registry.ignore(peer)
  }

  async allow (peerId: string, options: { name?: string, tenant?: string, address?: string } = {}): Promise<PeerInfo> {
    return toPeerInfo(await this.#registry.allow(peerId, options), false)
  }

  async remove (peer: string): Promise<PeerInfo> {
    return toPeerInfo(await this.#registry.remove(peer), false)
  }

  async rename (peer: string, name: string): Promise<PeerInfo> {
    return toPeerInfo(await this.#registry.rename(peer, name), false)
  }

  async removeAddress (peer: string, address: string): Promise<PeerInfo> {
    return toPeerInfo(await this.#registry.removeAddress(peer, address), false)
  }
}
