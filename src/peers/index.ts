/**
 * Peers, pairing and tenants (docs/protocol.md, "Pairing" and "Trust").
 *
 * `PeerRegistry` holds every known peer and the two decisions between it and this Core, and
 * answers the trust checks of the network layer (`PeerTrust`). `PairingService` speaks
 * `/drcore/pair/1` on a running node: it serves requests, sends ours, and delivers the
 * operator's decisions. Without a running node (the CLI on a stopped Core) `OfflinePairing`
 * records decisions in the registry alone; the daemon delivers them when it starts.
 */
export { PeerRegistry } from './registry.ts'
export type { PeerRegistryOptions } from './registry.ts'
export { PairingService } from './pairing.ts'
export { SelfPairingError } from './errors.ts'
export { OfflinePairing } from './operations.ts'
export type { PairingOperations } from './operations.ts'
export type { PairingOptions, RateLimit } from './pairing.ts'
export { stateOf, toPeerInfo, peerLabel, checkName, isValidName, splitAddress } from './record.ts'
export type { PeerRecord, PeerInfo, PeerState, InboundDecision, OutboundDecision } from './record.ts'
