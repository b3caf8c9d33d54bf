import { MalformedError, NotAuthorizedError } from '../errors.ts'
import type { PeerTrust, WireStream } from '../net/index.ts'
import type { PointIndex } from '../points/point-index.ts'
import type { BlockStore } from '../store/api.ts'
import { answerWant } from './fetch-server.ts'
import { SentClosures } from './sent-closures.ts'
import type { RuleRecord } from '../rules/index.ts'
import { TenantScope } from '../tenants/index.ts'
import type { TenantBlocks } from '../tenants/index.ts'
import type { EngineMetrics } from './api.ts'
import { approvedTenant } from './sessions.ts'

export interface RepairServerDeps {
  store: BlockStore
  points: PointIndex
  tenants: TenantBlocks
  peers: PeerTrust & { tenantOf: (peerId: string) => string | undefined, canSendTo: (peerId: string) => boolean }
  rules: { list: () => Promise<RuleRecord[]> }
  metrics: EngineMetrics
}

/**
 * This Core's side of `/drcore/repair/1`: a peer that lost blocks asks for good copies with
 * `want`. It may have them from two places:
 * - its tenant here, when this Core approved it (the blocks it sent, as fetch serves them);
 * - the points this Core replicates to it, when this Core may send to it: a source serves the
 *   blocks of what it sends to a target, although it never approved that target.
 * A block outside both, or not here, or damaged here, is answered missing, all alike, so the
 * answers tell nothing about other tenants' data.
 */
export async function serveRepair (deps: RepairServerDeps, wire: WireStream, peer: string): Promise<void> {
  // the node checked this before the handler ran; what the peer may see depends on it
  const tenant = approvedTenant(deps.peers, peer)
  const sendsTo = deps.peers.canSendTo(peer)
  if (tenant === undefined && !sendsTo) {
    throw new NotAuthorizedError(`this Core neither approved peer ${peer} nor sends to it`)
  }
  const scope = tenant === undefined ? undefined : new TenantScope(deps, tenant)
  const sent = sendsTo ? new SentClosures(deps, peer) : undefined
  while (true) {
    const frame = await wire.receive()
    if (frame === undefined || frame.type === 'error') return
    if (frame.type !== 'want') {
      throw new MalformedError(`peer ${peer} sent ${frame.type === 'block' || frame.type === 'stored-block' ? `block ${frame.cid}` : frame.type}, which is not a request of the repair protocol`)
    }
    const allowed = scope === undefined ? frame.cids.map(() => false) : await scope.blocks.hasMany(frame.cids)
    const others = allowed.flatMap((ok, i) => ok ? [] : [i])
    if (sent !== undefined && others.length > 0) {
      const inSent = await sent.contains(others.map(i => frame.cids[i]))
      others.forEach((i, j) => { if (inSent[j]) allowed[i] = true })
    }
    await answerWant(deps, wire, frame.cids, allowed)
  }
}
