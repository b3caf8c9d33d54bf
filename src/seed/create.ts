import { join } from 'node:path'
import type { PrivateKey } from '@libp2p/interface'
import { FileSystemError, InvalidInputError, UserError } from '../errors.ts'
import { syncDirectory } from '../fsx/sync-directory.ts'
import { throttled } from '../common/throttle.ts'
import type { ProgressFn } from '../api/operations.ts'
import { MAX_BLOCK_SIZE } from '../points/constants.ts'
import { cborBlock } from '../points/blocks.ts'
import type { BlockStore, StoredBlock } from '../store/api.ts'
import type { CID } from 'multiformats/cid'
import { seedBlocks } from './blocks.ts'
import { carHeader, sectionHead, zstPreamble, zstSection, zstSectionBound } from './car.ts'
import { PART_DIGITS, PART_EXTENSION, PART_FORMAT, SEED_FORMAT, SEED_FORMAT_VERSION } from './constants.ts'
import { partBlock, signSeed } from './descriptor.ts'
import { PartFile } from './part-file.ts'
import { PartTooSmallError, planParts } from './plan.ts'
import type { SeedSelection } from './selection.ts'
import type { CreatedPart, SeedCreateResult, SeedDescriptor, SeedMachine, SeedRecord } from './api.ts'
import { makeDirs } from '../fsx/make-dirs.ts'

export interface CreateDeps {
  store: BlockStore
  /** this Core's identity: the seed is signed with it */
  privateKey: PrivateKey
  peerId: string
  /** this Core's name */
  name: string
}

export interface CreateOptions {
  /** directory for the parts (created when missing) */
  dir: string
  /** bytes per part at most; undefined: one part */
  maxSize?: number
  onProgress?: ProgressFn
}

/** `<seed id>-0001.car.zst` */
export function partFileName (seed: string, part: number): string {
  return `${seed}-${String(part).padStart(PART_DIGITS, '0')}${PART_EXTENSION}`
}

/**
 * Writes a seed: plans the parts (a pass over nodes and the index), signs the descriptor, then
 * streams every block from the store in its stored form (read ahead, proved by the store, never
 * decompressed into the part nor compressed again) into the `.car.zst` parts in order. Each part is written under a temporary name, synced and renamed; if anything fails,
 * every file of this seed is removed. Returns the result and the record to keep.
 */
export async function writeSeed (deps: CreateDeps, selection: SeedSelection, options: CreateOptions): Promise<{ result: SeedCreateResult, record: SeedRecord }> {
  const started = performance.now()
  const progress = throttled(options.onProgress)
  const machines = selection.machines.map(({ machine, points }): SeedMachine => {
    const dates = points.map(p => p.createdAt).sort()
    return { machine: machine.machine, origin: machine.origin, cluster: machine.cluster, points: points.length, from: dates[0], to: dates[dates.length - 1] }
  })
  const draft: SeedDescriptor = {
    format: SEED_FORMAT,
    version: SEED_FORMAT_VERSION,
    source: deps.peerId,
    sourceName: deps.name,
    target: selection.target,
    createdAt: new Date().toISOString(),
    parts: 1,
    blocks: 0,
    bytes: 0,
    machines,
    points: selection.machines.flatMap(m => m.points.map(p => p.point))
  }

  const overhead = partOverhead(draft)
  const budget = options.maxSize === undefined ? Infinity : options.maxSize - overhead
  let layout
  try {
    if (budget <= 0) throw new PartTooSmallError(0)
    layout = await planParts(deps.store, selection.machines, budget, blocks => progress({ phase: 'seed plan', done: blocks, unit: 'blocks' }))
  } catch (err) {
    if (!(err instanceof PartTooSmallError)) throw err
    const needed = overhead + zstSectionBound(36, MAX_BLOCK_SIZE, MAX_BLOCK_SIZE)
    throw new InvalidInputError(`--max-size ${options.maxSize} is too small: a part needs ${overhead} bytes for its header and descriptors plus room for a whole block (up to ${MAX_BLOCK_SIZE}); use at least ${Math.ceil(needed / 2 ** 20)}M`)
  }
  progress({ phase: 'seed plan', done: layout.blocks, unit: 'blocks' }, true)

  const seed = await signSeed({ ...draft, parts: layout.parts.length, blocks: layout.blocks, bytes: layout.bytes }, deps.privateKey)
  const id = seed.id.toString()
  await makeDirs(options.dir).catch((err: unknown) => { throw new FileSystemError('creating the seed directory', options.dir, err) })

  const written: PartFile[] = []
  const parts: CreatedPart[] = []
  const blocks = storedBlocks(deps.store, seedBlocks(deps.store, selection.machines))
  const iterator = blocks[Symbol.asyncIterator]()
  const changed = (): UserError => new UserError('the recovery points changed while the seed was written (blocks differ from the plan); run seed create again')
  let done = 0
  try {
    for (const [i, plan] of layout.parts.entries()) {
      const root = partBlock({ format: PART_FORMAT, version: SEED_FORMAT_VERSION, seed: seed.id, part: i + 1, blocks: plan.blocks, bytes: plan.bytes })
      const path = join(options.dir, partFileName(id, i + 1))
      const file = await PartFile.create(path)
      written.push(file)
      await appendAll(file, zstPreamble([carHeader(root.cid), sectionHead(root.cid, root.bytes.length), root.bytes, sectionHead(seed.id, seed.bytes.length), seed.bytes]))
      let bytes = 0
      for (let n = 0; n < plan.blocks; n++) {
        const next = await iterator.next()
        if (next.done === true) throw changed()
        await appendAll(file, zstSection(next.value.cid, next.value.stored))
        bytes += next.value.stored.rawLength
        done += next.value.stored.rawLength
        progress({ phase: 'seed write', done, total: layout.bytes, unit: 'bytes', detail: `part ${i + 1} of ${layout.parts.length}` })
      }
      if (bytes !== plan.bytes) throw changed()
      const size = await file.finish()
      if (options.maxSize !== undefined && size > options.maxSize) throw new Error(`part ${i + 1} is ${size} bytes, past --max-size ${options.maxSize}`)
      parts.push({ part: i + 1, file: path, size, blocks: plan.blocks })
    }
    if ((await iterator.next()).done !== true) throw changed()
    await syncDirectory(options.dir).catch((err: unknown) => { throw new FileSystemError('syncing the seed directory', options.dir, err) })
  } catch (err) {
    await iterator.return?.(undefined)
    // a later consume must not meet half a seed: every file of this one goes, whole parts too
    // (a retry signs a new seed, whose parts would not match them)
    for (const file of written) await file.discard().catch(() => {})
    if (err instanceof FileSystemError) throw err.withNote(`removed the ${written.length === 1 ? 'part' : `${written.length} parts`} of seed ${id} written so far`)
    throw err
  }
  progress({ phase: 'seed write', done, total: layout.bytes, unit: 'bytes' }, true)

  const dates = machines.flatMap(m => [m.from, m.to]).sort()
  const now = new Date().toISOString()
  const record: SeedRecord = {
    seed: id,
    target: selection.target,
    machines,
    points: seed.descriptor.points,
    from: dates[0],
    to: dates[dates.length - 1],
    parts: parts.length,
    blocks: layout.blocks,
    bytes: layout.bytes,
    dir: options.dir,
    files: parts.map(p => partFileName(id, p.part)),
    maxSize: options.maxSize ?? null,
    createdAt: seed.descriptor.createdAt,
    state: 'outstanding',
    stateAt: now,
    rules: selection.rules.map(r => ({ machine: r.machine, to: r.to }))
  }
  const result: SeedCreateResult = {
    seed: id,
    parts,
    points: record.points.length,
    blocks: layout.blocks,
    bytes: layout.bytes,
    target: selection.target,
    skipped: selection.skipped,
    removed: [], // the caller cleans the folder first (leftovers.ts)
    seconds: (performance.now() - started) / 1000
  }
  return { result, record }
}

async function appendAll (file: PartFile, buffers: Uint8Array[]): Promise<void> {
  for (const buffer of buffers) await file.append(buffer)
}

/**
 * Bytes a part spends besides its data sections, at most: the CAR header and the two descriptor
 * sections with every number at its widest encoding (the real ones are never longer).
 */
function partOverhead (draft: SeedDescriptor): number {
  const widest = Number.MAX_SAFE_INTEGER
  const placeholder = cborBlock({}).cid
  const part = partBlock({ format: PART_FORMAT, version: SEED_FORMAT_VERSION, seed: placeholder, part: widest, blocks: widest, bytes: widest })
  const seed = cborBlock({ descriptor: { ...draft, parts: widest, blocks: widest, bytes: widest }, signature: new Uint8Array(64) })
  const preamble = [carHeader(placeholder), sectionHead(part.cid, part.bytes.length), part.bytes, sectionHead(seed.cid, seed.bytes.length), seed.bytes]
  return zstPreamble(preamble).reduce((sum, b) => sum + b.length, 0)
}

/** Blocks asked of the store at once: neighbours among them in a pack are read with one read. */
const READ_BATCH = 256

/**
 * The stored form of each block of `cids`, in their order (the plan's), read `READ_BATCH` at a
 * time with `getStoredMany`; a block missing or damaged here throws what `getStored` would.
 */
async function * storedBlocks (store: BlockStore, cids: AsyncIterable<CID>): AsyncGenerator<{ cid: CID, stored: StoredBlock }> {
  let batch: CID[] = []
  for await (const cid of cids) {
    batch.push(cid)
    if (batch.length < READ_BATCH) continue
    yield * storedBatch(store, batch)
    batch = []
  }
  yield * storedBatch(store, batch)
}

async function * storedBatch (store: BlockStore, batch: CID[]): AsyncGenerator<{ cid: CID, stored: StoredBlock }> {
  for await (const read of store.getStoredMany(batch)) {
    if (read.error !== undefined) throw read.error
    yield read
  }
}
