import { asExpectedError, BadSignatureError, CorruptBlockError, FileSystemError, MalformedError, NotAuthorizedError } from '../errors.ts'
import type { EventSink } from '../events/api.ts'
import { emitRetentionEvent } from '../events/retention.ts'
import type { WireStream, PeerTrust } from '../net/index.ts'
import { decodeManifest } from '../points/manifest.ts'
import { IncomingPoint } from './incoming-point.ts'
import type { IncomingDeps } from './incoming-point.ts'
import { lockedPoints } from '../retention/index.ts'
import { QuotaExceededError, RetentionLockedError, TenantScope } from '../tenants/index.ts'
import type { TenantSettings } from '../tenants/index.ts'
import type { EngineMetrics, PointReceived } from './api.ts'
import { approvedTenant, countedSend } from './sessions.ts'
import { FORGOTTEN_BY_RETENTION } from '../protocol/index.ts'
import type { Message, MessageOf } from '../protocol/index.ts'

export interface ReceiverDeps extends IncomingDeps {
  peers: PeerTrust & { tenantOf: (peerId: string) => string | undefined }
  events: EventSink
  /** this Core's peer id */
  self: string
  metrics: EngineMetrics
  /** told about every point committed new, or completed, in a tenant */
  received: (event: PointReceived) => void
  /** each tenant's retention lock, which `remove-machine` may not break */
  settings: Pick<TenantSettings, 'get'>
  /** how a peer is named in events: `name (peer id)` where the operator named it */
  label?: (peerId: string) => string
  /**
   * What the shares of each point being received carried on other streams (by `peer NUL point`),
   * so the `done` of the stream that commits it reports the whole transfer; entries go at `done`
   * and when a transfer is abandoned.
   */
  shares?: Map<string, ShareStats>
}

/** Blocks and bytes a point's extra streams delivered. */
export interface ShareStats { blocks: number, bytes: number, newBlocks: number }

/**
 * The target's side of `/drcore/replicate/1` and `/2` (docs/protocol.md): one session from an approved
 * source, every answer within the source's tenant. Offers are checked (manifest hash and
 * signature, origin), blocks taken as `IncomingPoint` asks for them, points committed at `done`.
 * A session cut off mid-offer keeps the blocks that arrived; a corrupt block, a bad signature or
 * a frame out of order ends it with an error to the source and a `replication.rejected` event,
 * and nothing of the point is committed.
 */
export async function serveReplicate (deps: ReceiverDeps, wire: WireStream, peer: string): Promise<void> {
  // the node checked this before the handler ran; the tenant is what every answer depends on
  const tenant = approvedTenant(deps.peers, peer)
  if (tenant === undefined) throw new NotAuthorizedError(`this Core has not approved peer ${peer}`)
  const who = deps.label?.(peer) ?? peer
  const scope = new TenantScope(deps, tenant)
  const send = countedSend(wire, deps.metrics)
  let incoming: IncomingPoint | undefined
  /** the point of the offer being handled, for the rejection event */
  let offered: string | null = null
  /** the point being received; `type` names the frame in the error (a function for a block: its CID is spelled only then) */
  const current = (type: string | (() => string)): IncomingPoint => {
    if (incoming === undefined) throw new MalformedError(`peer ${who} sent ${typeof type === 'string' ? type : type()} outside an accepted offer`)
    return incoming
  }
  const between = (type: string): void => {
    if (incoming !== undefined) throw new MalformedError(`peer ${who} sent ${type} before finishing the offer of point ${incoming.signed.id}`)
  }
  /** what ended the session, when it failed */
  let failure: unknown
  try {
    while (true) {
      const frame = await wire.receive()
      if (frame === undefined && incoming !== undefined && incoming.outstanding === 0) {
        // a clean end inside an offer with every asked block delivered: the stream carried a
        // share of the point, which another stream commits (docs/protocol.md, "Parallel streams")
        await endShare(deps, incoming)
        incoming = undefined
        offered = null
        break
      }
      if (frame === undefined || frame.type === 'error') break
      switch (frame.type) {
        case 'block': {
          await current(() => `block ${frame.cid}`).block(frame.cid, frame.bytes)
          deps.metrics.blocksReceived++
          deps.metrics.bytesReceived += frame.bytes.length
          break
        }
        case 'stored-block': {
          await current(() => `block ${frame.cid}`).block(frame.cid, frame)
          deps.metrics.blocksReceived++
          deps.metrics.bytesReceived += frame.rawLength
          break
        }
        case 'offer': {
          between('offer')
          offered = frame.point.toString()
          incoming = await offer(deps, scope, frame, peer, send)
          if (incoming === undefined) offered = null
          break
        }
        case 'have': {
          const missing = await current('have').have(frame.cids)
          await send({ type: 'have-reply', count: frame.cids.length, missing })
          break
        }
        case 'done': {
          const point = current('done')
          const committed = await point.done()
          incoming = undefined
          offered = null
          await send({ type: 'ack', point: point.signed.id, complete: committed.complete, missing: committed.missing })
          announce(deps, point, committed, takeShares(deps, point))
          break
        }
        case 'status': {
          between('status')
          await send({ type: 'status-reply', machine: frame.machine, points: await scope.summaries(frame.machine) })
          break
        }
        case 'remove-machine': {
          between('remove-machine')
          const removed = await removeMachine(deps, scope, frame.machine, peer)
          await send({ type: 'remove-reply', machine: frame.machine, removed })
          if (removed > 0) {
            deps.events.emit('replication.removed', `peer ${who} removed ${removed} points of ${frame.machine} from tenant ${tenant}`, { peerId: peer, tenant, machine: frame.machine, removed })
          }
          break
        }
        default:
          throw new MalformedError(`peer ${who} sent ${frame.type}, which is not a request of the replicate protocol`)
      }
    }
  } catch (err) {
    failure = err
    if (err instanceof QuotaExceededError) {
      emitRetentionEvent(deps.events, 'tenant.quota-exceeded', `refused a block of point ${offered ?? 'unknown'} from peer ${peer}: ${err.message}`, {
        tenant, quota: err.quota, storedBytes: err.storedBytes, bytes: err.bytes, peerId: peer, point: offered, seed: null
      }, 'error')
    }
    if (err instanceof CorruptBlockError || err instanceof BadSignatureError || (err instanceof MalformedError && offered !== null)) {
      deps.events.emit('replication.rejected', `rejected ${offered === null ? 'a transfer' : `point ${offered}`} from peer ${who}: ${err.message}`, {
        peerId: peer, tenant, point: offered, reason: err.message
      }, 'error')
    }
    throw err
  } finally {
    if (incoming !== undefined) {
      const point = incoming
      takeShares(deps, point)
      const kept = await point.abandon()
      const { blocks, bytes } = point.stats
      const storage = asExpectedError(failure)
      if (storage instanceof FileSystemError) {
        // this Core's disk, not the peer, stopped the transfer: the operator here must act
        const next = storage.outOfSpace ? '; once space is freed here, its next job completes the point' : ''
        deps.events.emit('replication.interrupted', `the transfer of point ${point.signed.id} from peer ${who} stopped: ${storage.summary}; ` +
          `the blocks made durable before are kept, and the peer was told why${next}`, {
          peerId: peer, tenant, point: point.signed.id.toString(), blocks, bytes, kept, reason: storage.summary, code: storage.code ?? null
        }, 'error')
      } else {
        const what = kept ? `the ${blocks} blocks (${bytes} bytes) received are kept` : 'the store failed while keeping what was received'
        deps.events.emit('replication.interrupted', `the transfer of point ${point.signed.id} from peer ${who} ended before it was complete; ${what}`, {
          peerId: peer, tenant, point: point.signed.id.toString(), blocks, bytes, kept
        }, 'warning')
      }
    }
  }
}

/** Checks an offer; returns the point to receive, or undefined when nothing is to be sent. */
async function offer (deps: ReceiverDeps, scope: TenantScope, frame: MessageOf<'offer'>, peer: string, send: (m: Message) => Promise<void>): Promise<IncomingPoint | undefined> {
  const signed = await decodeManifest(frame.manifest, frame.point)
  const id = signed.id.toString()
  if (signed.manifest.origin === deps.self) {
    await send({ type: 'offer-reply', known: false, complete: false, accepted: false, reason: `this Core is the origin of point ${id}` })
    return undefined
  }
  const existing = await scope.point(id)
  const forgotten = existing === undefined ? await deps.tenants.forgottenAt(scope.tenant, id) : undefined
  if (forgotten !== undefined) {
    await send({ type: 'offer-reply', known: false, complete: false, accepted: false, reason: `${FORGOTTEN_BY_RETENTION}: this Core's retention policy removed point ${id} on ${forgotten}; it is not taken again` })
    return undefined
  }
  if (existing !== undefined && (await scope.completeness(existing, signed)).complete) {
    await send({ type: 'offer-reply', known: true, complete: true, accepted: false, reason: `point ${id} is already complete here` })
    return undefined
  }
  await send({ type: 'offer-reply', known: existing !== undefined, complete: false, accepted: true, reason: null })
  return new IncomingPoint(deps, scope, signed, peer)
}

/** Keeps the blocks of a finished share and counts them for the point's `done`. */
async function endShare (deps: ReceiverDeps, point: IncomingPoint): Promise<void> {
  await point.endShare()
  if (deps.shares === undefined) return
  const key = shareKey(point)
  const sum = deps.shares.get(key) ?? { blocks: 0, bytes: 0, newBlocks: 0 }
  sum.blocks += point.stats.blocks
  sum.bytes += point.stats.bytes
  sum.newBlocks += point.stats.newBlocks
  deps.shares.set(key, sum)
}

/** What the point's shares delivered on other streams (forgotten here). */
function takeShares (deps: ReceiverDeps, point: IncomingPoint): ShareStats {
  const key = shareKey(point)
  const sum = deps.shares?.get(key) ?? { blocks: 0, bytes: 0, newBlocks: 0 }
  deps.shares?.delete(key)
  return sum
}

function shareKey (point: IncomingPoint): string {
  return `${point.from}\u0000${point.signed.id.toString()}`
}

function announce (deps: ReceiverDeps, point: IncomingPoint, committed: Awaited<ReturnType<IncomingPoint['done']>>, shares: ShareStats): void {
  const { manifest } = point.signed
  const id = point.signed.id.toString()
  const tenant = point.scope.tenant
  const seconds = (performance.now() - point.started) / 1000
  const blocks = point.stats.blocks + shares.blocks
  const bytes = point.stats.bytes + shares.bytes
  const newBlocks = point.stats.newBlocks + shares.newBlocks
  const state = committed.complete ? 'complete' : `an orphan, ${committed.missing} blocks missing`
  deps.events.emit('replication.received', `received point ${id} of ${manifest.machine} from peer ${deps.label?.(point.from) ?? point.from} into tenant ${tenant}: ${blocks} blocks, ${bytes} bytes in ${seconds.toFixed(1)} s; ${state}`, {
    peerId: point.from, point: id, machine: manifest.machine, origin: manifest.origin, tenant, complete: committed.complete, missing: committed.missing, blocks, bytes, newBlocks, seconds
  })
  if (committed.isNew || committed.completed) {
    deps.received({ point: id, machine: manifest.machine, origin: manifest.origin, tenant, from: point.from })
  }
}

/**
 * Deletes the tenant's records of a machine's points (every origin); blocks stay. Refused, with
 * nothing removed, while the tenant's retention lock keeps any of them (a source's operator, or
 * whoever took over the source, cannot wipe its replicas; docs/retention.md).
 */
async function removeMachine (deps: ReceiverDeps, scope: TenantScope, machine: string, peer: string): Promise<number> {
  const records = await scope.points(machine)
  const lock = (await deps.settings.get(scope.tenant))?.retentionLock ?? null
  const locked = lockedPoints(records, lock, Date.now())
  if (locked.points.size > 0) {
    const err = new RetentionLockedError(`the retention lock of tenant ${scope.tenant} on this Core (${lock}) keeps ${locked.points.size} of the ${records.length} points of ${machine} ` +
      `until ${locked.until}: nothing was removed (only this Core's operator can change the lock)`, { tenant: scope.tenant, retentionLock: lock!, locked: locked.points.size, until: locked.until! })
    emitRetentionEvent(deps.events, 'tenant.delete-refused', `refused to delete the points of ${machine} for peer ${peer}: tenant ${scope.tenant}'s retention lock (${lock}) keeps ${locked.points.size} of them until ${locked.until}`, {
      tenant: scope.tenant, peerId: peer, machine, retentionLock: lock!, locked: locked.points.size, until: locked.until!
    }, 'warning')
    throw err
  }
  let removed = 0
  for (const record of records) {
    await deps.points.remove(record.point, scope.tenant)
    await deps.tenants.forgetPoint(scope.tenant, record.point)
    removed++
  }
  return removed
}
