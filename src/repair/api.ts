import type { PeerRef } from '../api/peer-ref.ts'

/** What `drcore repair` reports (docs/replication.md, "Repair"). */
export interface RepairReport {
  /** every point that was damaged is whole again */
  ok: boolean
  /** the points that were damaged when repair started, oldest first by machine */
  points: RepairedPoint[]
  /** quarantined blocks whose stored copy read well again (a passing read error) */
  reinstated: number
  /** blocks restored from another good copy in this repository's packs */
  foundLocally: number
  /** blocks received from peers, over all of them */
  fetched: number
  /** every peer asked, with what it gave, or why it could not be asked */
  peers: PeerAsked[]
  /** blocks still in quarantine afterwards (waiting for a good copy) */
  quarantined: number
  /** why no peer was asked, when none was (e.g. the Core is not running) */
  peersNotAsked: string | null
  seconds: number
}

export interface RepairedPoint {
  point: string
  machine: string
  /** the tenant that holds it ('' for this Core's own) */
  tenant: string
  state: 'whole' | 'still damaged'
  /** blocks of its closure still missing (a missing node hides its subtree and counts once) */
  missingBlocks: number
  /** the peers that sent blocks of it */
  from: PeerRef[]
}

/** A peer asked for blocks: named as every result names peers (api/peer-ref.ts), with what it gave. */
export interface PeerAsked extends PeerRef {
  /** blocks it sent, and their bytes */
  blocks: number
  bytes: number
  /** why asking it failed (unreachable, too old to serve repair, not related to this Core) */
  error: string | null
}
