import type { CID } from 'multiformats/cid'
import { CorruptBlockError, MissingBlockError } from '../errors.ts'
import type { WireStream } from '../net/index.ts'
import { decodeManifest, loadManifest, parsePointId } from '../points/manifest.ts'
import type { SignedPoint } from '../points/api.ts'
import type { BlockStore } from '../store/api.ts'
import { BlockIntake } from './block-intake.ts'
import type { IntakeOptions } from './block-intake.ts'
import { BlockPuller } from './pull.ts'
import type { TenantBlocks } from '../tenants/index.ts'
import type { EngineMetrics } from './api.ts'
import { countedSend } from './sessions.ts'

export interface RepairClientDeps {
  store: BlockStore
  tenants: TenantBlocks
  metrics: EngineMetrics
  intake: IntakeOptions
  /** CIDs per `want` */
  batchSize: number
}

/** What one peer gave in a repair. */
export interface PeerPull {
  /** blocks received and stored */
  blocks: number
  bytes: number
  /** blocks received while each point's closure was walked, by point id */
  byPoint: Record<string, number>
}

/**
 * The asking side of `/drcore/repair/1`: walks each point's closure level by level, asks the
 * peer for every block absent here (or damaged here) in batched `want`s, and stores what comes
 * through a block intake (each block rehashed first). A point whose manifest is gone here asks
 * for it first, and takes it only when its signature verifies. `tenant` is the tenant the peer's
 * blocks count as delivered by ('' when this Core has not approved the peer). Closes `wire`.
 */
export async function pullRepair (deps: RepairClientDeps, wire: WireStream, label: string, tenant: string, points: string[], onBlock?: (bytes: number) => void): Promise<PeerPull> {
  const result: PeerPull = { blocks: 0, bytes: 0, byPoint: {} }
  const intake = new BlockIntake(deps.store, deps.tenants, tenant, deps.intake, { from: label })
  let current = ''
  const puller = new BlockPuller(wire, {
    store: deps.store,
    intake,
    batchSize: deps.batchSize,
    label,
    send: countedSend(wire, deps.metrics),
    onBlock: (_cid, size) => {
      result.blocks++
      result.bytes += size
      result.byPoint[current] = (result.byPoint[current] ?? 0) + 1
      deps.metrics.blocksReceived++
      deps.metrics.bytesReceived += size
      onBlock?.(size)
    }
  })
  const seen = new Set<string>()
  try {
    for (const id of points) {
      current = id
      const signed = await manifestOf(deps.store, puller, parsePointId(id))
      if (signed === undefined) continue
      await puller.pull(Object.values(signed.manifest.volumes).map(v => v.root), seen)
    }
    if (!await intake.close()) throw new Error(`the store failed while keeping the blocks received from ${label}`)
    await wire.close()
  } catch (err) {
    await intake.close()
    wire.abort(err instanceof Error ? err : new Error(String(err)))
    throw err
  }
  return result
}

/** The point's manifest: read here, or asked for when it is gone or damaged here. */
async function manifestOf (store: BlockStore, puller: BlockPuller, id: CID): Promise<SignedPoint | undefined> {
  try {
    return await loadManifest(store, id)
  } catch (err) {
    if (!(err instanceof MissingBlockError || err instanceof CorruptBlockError)) throw err
  }
  let bytes: Uint8Array | undefined
  await puller.want([id], (_cid, b) => { bytes = b })
  return bytes === undefined ? undefined : await decodeManifest(bytes, id)
}
