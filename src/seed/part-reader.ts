import { createHash } from 'node:crypto'
import { open, stat } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { basename } from 'node:path'
import { readBlockHead, readHeader } from '@ipld/car/decoder'
import { CID } from 'multiformats/cid'
import { BadSignatureError, MalformedError } from '../errors.ts'
import { readAhead } from '../common/concurrency.ts'
import { isDrcoreCid, DAG_CBOR_CODE } from '../points/blocks.ts'
import { MAX_BLOCK_SIZE } from '../points/constants.ts'
import type { ProvedBlock, StoredBlock } from '../store/api.ts'
import { proveStored } from '../store/block-codec.ts'
import { FLAG_ZSTD } from '../store/pack-format.ts'
import { PART_EXTENSION, READ_AHEAD, READ_CHUNK } from './constants.ts'
import { ZstPart } from './zst-reader.ts'
import { decodePart, decodeSeed, looksLikePart } from './descriptor.ts'
import type { PartDescriptor, VerifiedSeed } from './api.ts'

type BytesReader = Parameters<typeof readBlockHead>[0]

/**
 * A data section of a part: verified, or refused with the reason. `stored` is the block as the
 * part carries it: the block itself (flags 0) or, in a `.car.zst` part, possibly its zstd frame.
 * `proved`, in a `.car.zst` part, is the store's proved copy of it: hand it to
 * `BlockWriter.putProved` (each block is proved once, here) or `release` it.
 */
export type PartSection =
  | { valid: true, cid: CID, stored: StoredBlock, offset: number, proved?: ProvedBlock }
  | { valid: false, cid: CID, offset: number, reason: string }

/**
 * Reads one part file with @ipld/car's decoder, adding what the decoder leaves out: the part
 * must be a CARv1 (a `.car`, or a `.car.zst` whose frames hold one, read without decompressing:
 * see zst-reader.ts) whose single root is a part descriptor, followed by the signed seed
 * descriptor it links to; every data section is proved against its CID (rehashed, and for a
 * zstd body decompressed on a worker first). Every problem names the file (and the byte offset
 * in the CAR, when it is in the data).
 */
export class SeedPartReader {
  readonly path: string
  readonly file: string
  /** bytes of the file */
  readonly size: number
  readonly part: PartDescriptor
  readonly seed: VerifiedSeed
  /** a plain `.car` (blocks as they are) rather than a `.car.zst` (blocks as stored) */
  readonly plain: boolean
  readonly #handle: FileHandle
  readonly #reader: BytesReader
  readonly #zst: ZstPart | undefined

  private constructor (path: string, size: number, handle: FileHandle, reader: BytesReader, zst: ZstPart | undefined, part: PartDescriptor, seed: VerifiedSeed) {
    this.path = path
    this.file = basename(path)
    this.size = size
    this.#handle = handle
    this.#reader = reader
    this.#zst = zst
    this.plain = zst === undefined
    this.part = part
    this.seed = seed
  }

  /**
   * Opens a part and reads its descriptors. `MalformedError` "<file> is not a drcore seed part:
   * ..." for another kind of file or CAR; `MalformedError` or `BadSignatureError` naming the
   * file when the descriptors are damaged or not signed by the source.
   */
  static async open (path: string): Promise<SeedPartReader> {
    const file = basename(path)
    const size = (await stat(path)).size
    const handle = await open(path, 'r')
    try {
      const zst = path.endsWith(PART_EXTENSION) ? new ZstPart(handle) : undefined
      const reader = zst?.reader ?? fileReader(handle)
      const notPart = (why: string): MalformedError => new MalformedError(`${file} is not a drcore seed part: ${why}`)
      let header
      try {
        header = await readHeader(reader)
      } catch (err) {
        if (zst !== undefined && (err as Error).message === 'Unexpected end of data') throw new MalformedError(`${file} is truncated: it ends inside its first zstd frame (the CAR header and the descriptors)`)
        throw notPart(`it is not a ${zst === undefined ? 'CAR file' : 'CAR in zstd frames'} (${(err as Error).message})`)
      }
      if (header.version !== 1) throw notPart(`it is a CAR version ${header.version as number} file`)
      if (header.roots.length !== 1) throw notPart(`it has ${header.roots.length} roots, a seed part has one`)
      const root = header.roots[0]
      if (root.code !== DAG_CBOR_CODE) throw notPart(`its root ${root} is not a seed part descriptor`)
      const first = await readSection(reader, file)
      if (!first.cid.equals(root)) throw notPart(`its first block is not its root ${root}`)
      if (!looksLikePart(first.bytes)) throw notPart(`its root ${root} is not a seed part descriptor`)
      const part = describe(file, () => decodePart(first.bytes, root))
      const second = await readSection(reader, file)
      if (!second.cid.equals(part.seed)) throw new MalformedError(`${file} is damaged: its second block ${second.cid} is not the seed descriptor ${part.seed} its root names`)
      const seed = await describeAsync(file, async () => await decodeSeed(second.bytes, second.cid))
      if (part.part > seed.descriptor.parts) throw new MalformedError(`${file} is damaged: it says it is part ${part.part} of a seed of ${seed.descriptor.parts} parts`)
      return new SeedPartReader(path, size, handle, reader, zst, part, seed)
    } catch (err) {
      await handle.close()
      throw err
    }
  }

  /** Bytes of the file read so far. */
  get position (): number {
    return this.#reader.pos
  }

  /**
   * The data sections, each rehashed (in a `.car.zst`, with the proved copy kept: see
   * `PartSection`). A section whose bytes do not match its CID is yielded as
   * invalid (the framing around it is intact, so reading goes on). Damaged framing or a short
   * file throws `MalformedError`; the sections yielded before it stand.
   */
  sections (): AsyncGenerator<PartSection> {
    const zst = this.#zst
    if (zst === undefined) return this.#plainSections()
    // proofs run on the store's workers, several blocks ahead of the consumer; a reading failure
    // comes in its turn, after the sections read before it
    return readAhead(deferFailure(this.#zstSections(zst)), READ_AHEAD, async (item): Promise<PartSection> => {
      if ('failure' in item) throw item.failure
      const section = item
      if (!section.valid) return section
      const proof = await proveStored(section.cid, section.stored)
      return 'proved' in proof ? { ...section, proved: proof.proved } : { valid: false, cid: section.cid, offset: section.offset, reason: proof.problem }
    })
  }

  /** Whether another section follows; a file cut inside the frame that would hold it is truncated. */
  async #more (): Promise<boolean> {
    const offset = this.#reader.pos
    try {
      return (await this.#reader.upTo(8)).length > 0
    } catch (err) {
      if (err instanceof MalformedError) throw new MalformedError(`${this.file} is damaged at byte ${offset}: ${err.message}`)
      if ((err as Error).message === 'Unexpected end of data') throw new MalformedError(`${this.file} is truncated: it ends inside the section at byte ${offset}`)
      throw err
    }
  }

  async * #plainSections (): AsyncGenerator<PartSection> {
    while (await this.#more()) {
      const offset = this.#reader.pos
      const { cid, bytes } = await readSection(this.#reader, this.file)
      if (!isDrcoreCid(cid)) {
        yield { valid: false, cid, offset, reason: NOT_DRCORE }
      } else if (!createHash('sha256').update(bytes).digest().equals(cid.multihash.digest)) {
        yield { valid: false, cid, offset, reason: 'its bytes do not match its hash' }
      } else {
        yield { valid: true, cid, stored: { flags: 0, body: bytes, rawLength: bytes.length }, offset }
      }
    }
  }

  /** The sections of a `.car.zst`, not proved yet. */
  async * #zstSections (zst: ZstPart): AsyncGenerator<PartSection> {
    while (await this.#more()) {
      const offset = this.#reader.pos
      const { cid, stored } = await readStoredSection(zst, this.file)
      if (!isDrcoreCid(cid)) yield { valid: false, cid, offset, reason: NOT_DRCORE }
      else yield { valid: true, cid, stored, offset }
    }
  }

  async close (): Promise<void> {
    await this.#handle.close()
  }
}

const NOT_DRCORE = 'it is not a sha2-256 raw or dag-cbor CIDv1, which drcore does not store'

/** The items of `source`, then, if it fails, its failure as a last item instead of a throw. */
async function * deferFailure<T> (source: AsyncGenerator<T>): AsyncGenerator<T | { failure: unknown }> {
  try {
    yield * source
  } catch (failure) {
    yield { failure }
  }
}

/** Reads one section, turning decoder failures into messages about the file. */
async function readSection (reader: BytesReader, file: string): Promise<{ cid: CID, bytes: Uint8Array }> {
  return await sectionOf(reader, file, async (length) => await reader.exactly(length, true))
}

/**
 * Reads one section of a `.car.zst`: its block follows in the same raw frame (stored raw), or,
 * when the raw frame ends right after the CID, is the next frame (stored as a zstd frame).
 */
async function readStoredSection (zst: ZstPart, file: string): Promise<{ cid: CID, stored: StoredBlock }> {
  let stored: StoredBlock | undefined
  const { cid } = await sectionOf(zst.reader, file, async (length) => {
    stored = length > 0 && zst.atFrameEnd
      ? { flags: FLAG_ZSTD, body: await zst.nextBody(length), rawLength: length }
      : { flags: 0, body: await zst.reader.exactly(length, true), rawLength: length }
    return stored.body
  })
  return { cid, stored: stored! }
}

async function sectionOf (reader: BytesReader, file: string, body: (length: number) => Promise<Uint8Array>): Promise<{ cid: CID, bytes: Uint8Array }> {
  const offset = reader.pos
  try {
    const head = await readBlockHead(reader)
    if (head.blockLength > MAX_BLOCK_SIZE) {
      throw new MalformedError(`${file} is damaged at byte ${offset}: a section claims a block of ${head.blockLength} bytes, past the ${MAX_BLOCK_SIZE}-byte limit`)
    }
    // the decoder's CID keeps its digest as a view of the 4 MiB read buffer: a CID kept for
    // later (the tenant's references) would pin the whole buffer, so take one of its own
    return { cid: CID.decode(head.cid.bytes), bytes: await body(head.blockLength) }
  } catch (err) {
    const message = (err as Error).message
    if (err instanceof MalformedError) throw message.startsWith(file) ? err : new MalformedError(`${file} is damaged at byte ${offset}: ${message}`)
    if (message === 'Unexpected end of data') throw new MalformedError(`${file} is truncated: it ends inside the section at byte ${offset}`)
    throw new MalformedError(`${file} is damaged at byte ${offset}: ${message}`)
  }
}

/**
 * The decoder's `BytesReader` over a file handle. Reads READ_CHUNK bytes at a time and hands out
 * views into that buffer; only the few bytes left at the end of a buffer are copied into the
 * next one (the reader of @ipld/car's stream copies every chunk it crosses).
 */
function fileReader (handle: FileHandle): BytesReader {
  let buffer = Buffer.alloc(0)
  let start = 0
  let filePosition = 0
  let position = 0
  let ended = false
  const fill = async (length: number): Promise<void> => {
    const have = buffer.length - start
    if (have >= length || ended) return
    const next = Buffer.allocUnsafe(Math.max(length, READ_CHUNK))
    buffer.copy(next, 0, start)
    let filled = have
    while (filled < next.length) {
      const { bytesRead } = await handle.read(next, filled, next.length - filled, filePosition)
      if (bytesRead === 0) {
        ended = true
        break
      }
      filled += bytesRead
      filePosition += bytesRead
    }
    buffer = next.subarray(0, filled)
    start = 0
  }
  return {
    async upTo (length: number) {
      await fill(length)
      return buffer.subarray(start, start + Math.min(length, buffer.length - start))
    },
    async exactly (length: number, seek = false) {
      await fill(length)
      if (buffer.length - start < length) throw new Error('Unexpected end of data')
      const out = buffer.subarray(start, start + length)
      if (seek) {
        start += length
        position += length
      }
      return out
    },
    seek (length: number) {
      const inBuffer = Math.min(length, buffer.length - start)
      start += inBuffer
      filePosition += length - inBuffer
      position += length
    },
    get pos () {
      return position
    }
  }
}

/** Names the file in a descriptor's decoding error. */
function describe<T> (file: string, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    throw namedError(file, err)
  }
}

async function describeAsync<T> (file: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    throw namedError(file, err)
  }
}

function namedError (file: string, err: unknown): unknown {
  if (err instanceof MalformedError) return new MalformedError(`${file} is damaged: ${err.message}`)
  if (err instanceof BadSignatureError) return new BadSignatureError(`${file}: ${err.message}`)
  return err
}
