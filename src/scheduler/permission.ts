import type { SchedulerPeers } from './api.ts'

/**
 * Why this Core may not send to `to` yet, as the operator should read it, or null when the peer
 * approved us. A rule to such a peer is kept (rules may be made before the pairing completes)
 * and shows state `error` with this text; its jobs start when the approval arrives.
 */
export function whyCannotSend (peers: SchedulerPeers, to: string): string | null {
  if (peers.canSendTo(to)) return null
  const record = peers.get(to)
  if (record == null) return `peer ${to} is not paired with this Core: send it a pairing request (drcore peer add <its multiaddr>)`
  const label = record.name ?? to
  switch (record.outbound) {
    case 'denied': return `${label} denied this Core's pairing request`
    case 'requested': return `${label} has not approved this Core yet`
    default: return `${label} has not approved this Core: send it a pairing request (drcore peer add <its multiaddr>)`
  }
}
