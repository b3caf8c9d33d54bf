import { MalformedError, NotAuthorizedError, NotFoundError } from '../errors.ts'
import type { PeerTrust, WireStream } from '../net/index.ts'
import type { PointIndex } from '../points/point-index.ts'
import type { BlockStore } from '../store/api.ts'
import type { CID } from 'multiformats/cid'
import { readable, readableBlocks, readableStored } from './readable-blocks.ts'
import { TenantScope } from '../tenants/index.ts'
import type { TenantBlocks } from '../tenants/index.ts'
import type { EngineMetrics } from './api.ts'
import { approvedTenant, countedSend, countSent } from './sessions.ts'
import { bitmapOf } from '../protocol/index.ts'

export interface FetchServerDeps {
  store: BlockStore
  points: PointIndex
  tenants: TenantBlocks
  peers: PeerTrust & { tenantOf: (peerId: string) => string | undefined }
  metrics: EngineMetrics
}

/**
 * The target's side of `/drcore/fetch/1`: an owner lists and fetches back its own tenant's
 * points and blocks. A point or block outside the tenant is answered exactly like one that does
 * not exist (the same `not-found` text, the same "missing" bit), so the answers cannot tell
 * another tenant's data from no data.
 */
export async function serveFetch (deps: FetchServerDeps, wire: WireStream, peer: string): Promise<void> {
  const tenant = approvedTenant(deps.peers, peer)
  if (tenant === undefined) throw new NotAuthorizedError(`this Core has not approved peer ${peer}`)
  const scope = new TenantScope(deps, tenant)
  const send = countedSend(wire, deps.metrics)
  while (true) {
    const frame = await wire.receive()
    if (frame === undefined || frame.type === 'error') return
    switch (frame.type) {
      case 'list-points':
        await send({ type: 'points', points: await scope.summaries(frame.machine) })
        break
      case 'get-point': {
        const id = frame.point.toString()
        const bytes = await scope.point(id) === undefined ? undefined : await readable(deps.store, frame.point)
        if (bytes === undefined) throw new NotFoundError(`no recovery point ${id} here`)
        await send({ type: 'point', point: frame.point, manifest: bytes })
        break
      }
      case 'want':
        await answerWant(deps, wire, frame.cids, await scope.blocks.hasMany(frame.cids))
        break
      default:
        throw new MalformedError(`peer ${peer} sent ${frame.type === 'block' || frame.type === 'stored-block' ? `block ${frame.cid}` : frame.type}, which is not a request of the fetch protocol`)
    }
  }
}

/**
 * Answers a `want`: one block frame per CID that `allowed` lets out and that reads well here,
 * in request order, then `want-done` with the others. A CID not allowed is answered exactly
 * like one that is not here.
 */
export async function answerWant (deps: Pick<FetchServerDeps, 'store' | 'metrics'>, wire: WireStream, cids: CID[], allowed: boolean[]): Promise<void> {
  const missing = wire.storedBlocks ? await sendStored(deps, wire, cids, allowed) : await sendRaw(deps, wire, cids, allowed)
  await wire.send({ type: 'want-done', count: cids.length, missing: bitmapOf(cids.length, missing) })
  countSent(deps.metrics, 'want-done')
}

/** Version 2: each block as stored here, not decoded. Returns the indexes not sent. */
async function sendStored (deps: Pick<FetchServerDeps, 'store' | 'metrics'>, wire: WireStream, cids: CID[], allowed: boolean[]): Promise<number[]> {
  const missing: number[] = []
  let i = 0
  for await (const { cid, stored } of readableStored(deps.store, cids, i => allowed[i])) {
    if (stored === undefined) missing.push(i)
    else {
      await wire.sendStored(cid, stored)
      deps.metrics.blocksSent++
      deps.metrics.bytesSent += stored.rawLength
    }
    i++
  }
  return missing
}

/** Version 1: each block decoded. Returns the indexes not sent. */
async function sendRaw (deps: Pick<FetchServerDeps, 'store' | 'metrics'>, wire: WireStream, cids: CID[], allowed: boolean[]): Promise<number[]> {
  const missing: number[] = []
  let i = 0
  for await (const { cid, bytes } of readableBlocks(deps.store, cids, i => allowed[i])) {
    if (bytes === undefined) missing.push(i)
    else {
      await wire.sendBlock(cid, bytes)
      deps.metrics.blocksSent++
      deps.metrics.bytesSent += bytes.length
    }
    i++
  }
  return missing
}
