import { createHash, randomBytes } from 'node:crypto'
import assert from 'node:assert/strict'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { openBlockStore } from '../../src/store/index.ts'
import { reserveEncoding } from '../../src/store/compression.ts'
import { FLAG_ZSTD } from '../../src/store/pack-format.ts'
import type { BlockStore, BlockStoreOptions, RootDb } from '../../src/store/index.ts'

export interface Block {
  cid: CID
  bytes: Uint8Array
}

export function cidOf (bytes: Uint8Array): CID {
  return CID.createV1(raw.code, createDigest(0x12, createHash('sha256').update(bytes).digest()))
}

export function block (bytes: Uint8Array): Block {
  return { cid: cidOf(bytes), bytes }
}

/** Incompressible bytes. */
export function randomBlock (size: number): Block {
  return block(new Uint8Array(randomBytes(size)))
}

/** Bytes zstd shrinks a lot: a short random phrase repeated. */
export function compressibleBlock (size: number): Block {
  const phrase = randomBytes(16).toString('hex')
  return block(new TextEncoder().encode(phrase.repeat(Math.ceil(size / phrase.length)).slice(0, size)))
}

/** A temporary repository: a packs directory and a LevelDB, removed by `cleanup`. */
export class TestRepo {
  readonly root: string
  readonly packsDir: string
  readonly indexDir: string
  db: RootDb

  private constructor (root: string) {
    this.root = root
    this.packsDir = join(root, 'packs')
    this.indexDir = join(root, 'index')
    this.db = new Level<string, any>(this.indexDir)
  }

  static async create (): Promise<TestRepo> {
    const repo = new TestRepo(await mkdtemp(join(tmpdir(), 'drcore-store-')))
    await repo.db.open()
    return repo
  }

  async open (options: Partial<BlockStoreOptions> = {}): Promise<BlockStore> {
    return await openBlockStore({ dir: this.packsDir, db: this.db, ...options })
  }

  /** Closes and reopens the LevelDB, as a restarted process would. */
  async reopenDb (): Promise<void> {
    await this.db.close()
    this.db = new Level<string, any>(this.indexDir)
    await this.db.open()
  }

  async cleanup (): Promise<void> {
    await this.db.close()
    await rm(this.root, { recursive: true, force: true })
  }
}

export async function putAll (store: BlockStore, blocks: Block[]): Promise<void> {
  const writer = store.writer()
  for (const b of blocks) await writer.put(b.cid, b.bytes)
  await writer.commit()
}

export async function collect<T> (iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of iterable) out.push(item)
  return out
}

/** Flips one byte of a file; a negative position counts from the end. */
export async function flipByte (path: string, position: number): Promise<void> {
  const handle = await open(path, 'r+')
  try {
    const at = position < 0 ? (await handle.stat()).size + position : position
    const byte = Buffer.alloc(1)
    await handle.read(byte, 0, 1, at)
    byte[0] ^= 0xff
    await handle.write(byte, 0, 1, at)
  } finally {
    await handle.close()
  }
}

/**
 * The zstd frame the store's encoder makes of `bytes`, or undefined when it keeps them as they
 * are (zstd did not make them smaller). `bytes` is copied before this returns.
 */
export function zstd (bytes: Uint8Array): Promise<Uint8Array | undefined> {
  return reserveEncoding(bytes).commit(true).then(({ flags, body }) => {
    if (flags === 0) return undefined
    assert.equal(flags, FLAG_ZSTD)
    return body
  })
}
