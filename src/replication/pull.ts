import type { CID } from 'multiformats/cid'
import { CorruptBlockError, MalformedError } from '../errors.ts'
import { errorFromWire } from '../net/index.ts'
import type { WireStream } from '../net/index.ts'
import { cidKey, isRaw } from '../points/blocks.ts'
import { decodeNode, nodeLinks } from '../points/nodes.ts'
import type { BlockStore } from '../store/api.ts'
import { decodeBody } from '../store/block-codec.ts'
import type { BlockIntake } from './block-intake.ts'
import { bitmapIndexes } from '../protocol/index.ts'
import type { Message, MessageOf, StoredBlockFrame } from '../protocol/index.ts'

/** `want`s in flight before the first is answered. */
const PIPELINE = 2

export interface PullOptions {
  /** where blocks already here are read from (their children may still be missing) */
  store: BlockStore
  /** where received blocks go: rehashed, stored, made durable */
  intake: BlockIntake
  /** CIDs per `want` */
  batchSize: number
  /** how the peer is named in messages */
  label: string
  send: (message: Message) => Promise<void>
  /** after every block received, with the block's length */
  onBlock?: (cid: CID, size: number) => void
}

/**
 * The asking side of `want` / `want-done` (`/drcore/fetch/1` and `/drcore/repair/1`): pulls the
 * trees under some roots level by level. Blocks present here are read locally (their children may
 * still be missing); a block whose copy here turns out damaged is asked for like an absent one;
 * absent blocks are asked for in pipelined batches, and every block that comes is rehashed by the
 * intake before it is stored.
 */
export class BlockPuller {
  readonly #wire: WireStream
  readonly #options: PullOptions

  constructor (wire: WireStream, options: PullOptions) {
    this.#wire = wire
    this.#options = options
  }

  /**
   * Pulls every block under `roots` that this Core lacks. `seen` (keys of blocks already walked)
   * may be shared by several pulls, so trees they share are walked once. Returns how many blocks
   * the peer could not give (a missing node hides its subtree and counts once).
   */
  async pull (roots: CID[], seen = new Set<string>()): Promise<number> {
    const { store, batchSize } = this.#options
    let missing = 0
    const expand = (cid: CID, bytes: Uint8Array, next: CID[]): void => {
      if (isRaw(cid)) return
      for (const child of nodeLinks(decodeNode(cid, bytes))) {
        const key = cidKey(child)
        if (seen.has(key)) continue
        seen.add(key)
        next.push(child)
      }
    }
    let level: CID[] = []
    for (const root of roots) {
      if (seen.has(cidKey(root))) continue
      seen.add(cidKey(root))
      level.push(root)
    }
    while (level.length > 0) {
      const next: CID[] = []
      const absent: CID[] = []
      for (let i = 0; i < level.length; i += batchSize) {
        const slice = level.slice(i, i + batchSize)
        const present = await store.hasMany(slice)
        for (let j = 0; j < slice.length; j++) {
          if (!present[j]) absent.push(slice[j])
          else if (!isRaw(slice[j])) {
            const bytes = await readOrUndefined(store, slice[j])
            if (bytes === undefined) absent.push(slice[j])
            else expand(slice[j], bytes, next)
          }
        }
      }
      missing += await this.want(absent, (cid, bytes) => expand(cid, bytes, next))
      level = next
    }
    return missing
  }

  /**
   * Asks for `cids` in pipelined batches; stores what comes; returns how many the peer lacks.
   * `onNode` gets the bytes of every node (dag-cbor block) received, to walk its links.
   */
  async want (cids: CID[], onNode: (cid: CID, bytes: Uint8Array) => void = () => {}): Promise<number> {
    const { batchSize, label, intake } = this.#options
    const batches: CID[][] = []
    for (let i = 0; i < cids.length; i += batchSize) batches.push(cids.slice(i, i + batchSize))
    let sent = 0
    let answered = 0
    let missing = 0
    const ask = async (): Promise<void> => {
      while (sent < batches.length && sent - answered < PIPELINE) await this.#options.send({ type: 'want', cids: batches[sent++] })
    }
    await ask()
    while (answered < sent) {
      const batch = batches[answered]
      const got = new Set<number>()
      let position = 0
      while (true) {
        const frame = await this.#wire.receive()
        if (frame === undefined) throw new MalformedError(`peer ${label} closed the stream inside a want reply`)
        if (frame.type === 'want-done') {
          missing += checkDone(label, frame, batch, got)
          break
        }
        if (frame.type === 'error') throw errorFromWire(label, frame.code, frame.message)
        if (frame.type !== 'block' && frame.type !== 'stored-block') throw new MalformedError(`peer ${label} sent ${frame.type} inside a want reply`)
        while (position < batch.length && !batch[position].equals(frame.cid)) position++
        if (position === batch.length) throw new MalformedError(`peer ${label} sent block ${frame.cid}, which was not asked for (or out of order)`)
        got.add(position++)
        if (frame.type === 'block') {
          await intake.put(frame.cid, frame.bytes)
          if (!isRaw(frame.cid)) onNode(frame.cid, frame.bytes)
        } else {
          // a node's links are needed now: decode it here (it is proved again as it is stored)
          const node = isRaw(frame.cid) ? undefined : await nodeBytes(label, frame)
          await intake.put(frame.cid, frame)
          if (node !== undefined) onNode(frame.cid, node)
        }
        this.#options.onBlock?.(frame.cid, frame.type === 'block' ? frame.bytes.length : frame.rawLength)
      }
      answered++
      await ask()
    }
    return missing
  }
}

/** Checks a `want-done` against the blocks that came; returns how many were not sent. */
function checkDone (label: string, done: MessageOf<'want-done'>, batch: CID[], got: Set<number>): number {
  const notSent = bitmapIndexes(done.missing)
  if (done.count !== batch.length || notSent.length + got.size !== batch.length || notSent.some(i => got.has(i))) {
    throw new MalformedError(`peer ${label} answered a want of ${batch.length} blocks with a want-done that does not match the ${got.size} blocks it sent`)
  }
  return notSent.length
}

/** The bytes of a node that came in its stored form; `CorruptBlockError` naming the peer when they are wrong. */
async function nodeBytes (label: string, frame: StoredBlockFrame): Promise<Uint8Array> {
  try {
    return await decodeBody(frame.cid, frame.flags, frame.body, frame.rawLength)
  } catch (err) {
    if (err instanceof CorruptBlockError) throw new CorruptBlockError(frame.cid.toString(), `peer ${label} sent it as a body that is wrong (${err.detail})`)
    throw err
  }
}

/** A block read here, or undefined when its copy turns out damaged (the read quarantines it). */
async function readOrUndefined (store: BlockStore, cid: CID): Promise<Uint8Array | undefined> {
  try {
    return await store.get(cid)
  } catch (err) {
    if (err instanceof CorruptBlockError) return undefined
    throw err
  }
}
