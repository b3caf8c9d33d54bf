import { createReadStream } from 'node:fs'
import { mkdir, open, readdir, readFile, unlink } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { debuglog } from 'node:util'
import {
  AbortMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand,
  ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand
} from '@aws-sdk/client-s3'
import type { S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { parsePackFileName } from '../pack-format.ts'
import type { PackDirectory, PackFileHandle } from '../pack-files.ts'
import type { PackStorage, StorageUsage } from '../storage.ts'
import { DEFAULT_CACHE_BYTES, SegmentCache } from './cache.ts'
import { createS3Client } from './client.ts'
import type { RequestCounters } from './client.ts'
import { describeS3Error, isNotFound, ObjectStoreError } from './errors.ts'
import { PrefixLock } from './lock.ts'
import { s3Url } from './options.ts'
import type { S3StorageConfig } from './options.ts'

const log = debuglog('drcore:s3')

/** Packs up to this size go up in one PUT; larger ones in parts of this size (lib-storage). */
export const PART_SIZE = 16 * 1024 * 1024
/** parts of one pack uploaded at once */
const PART_QUEUE = 4
/** A ranged GET whose body breaks off (a reset mid-stream, which the SDK does not retry) is sent again this often. */
const BODY_ATTEMPTS = 4
export const LOCK_NAME = 'lock.json'

export interface S3PackStorageOptions extends S3StorageConfig {
  /** a local directory for packs being written (each is uploaded whole once sealed) */
  stagingDir: string
  /** the peer id of the Core: written into the prefix's lock */
  owner: string
  /** without a lock: a check before `init` writes nothing (default false) */
  noLock?: boolean
  /** how often the lock is renewed (default LOCK_RENEW_MS; tests shorten it) */
  lockRenewMs?: number
}

/**
 * Packs as objects `PREFIX/NNNNNNNN.pack` in an S3 bucket (docs/storage.md). A pack is
 * written to a local staging file while open; its seal (`datasync`) uploads the file whole (one
 * PUT, or a multipart upload for large packs) and resolves once the store has acknowledged it,
 * so the writer indexes nothing that is not durable in the bucket. Reads are ranged GETs
 * through a cache of segments with read-ahead.
 */
export class S3PackStorage implements PackStorage {
  readonly location: string
  readonly sealOnce = true
  readonly directory: PackDirectory
  readonly #client: S3Client
  readonly #config: S3PackStorageOptions
  readonly #endpoint: string
  readonly #counters: RequestCounters = { requests: {}, errors: {}, retries: 0 }
  readonly #cache: SegmentCache
  /** sizes seen in the last listing, so that recovery and rebuild do not HEAD every pack */
  readonly #listed = new Map<string, number>()
  #lock: PrefixLock | undefined
  #bytesUploaded = 0
  #bytesDownloaded = 0
  #closed = false

  private constructor (config: S3PackStorageOptions) {
    this.#config = config
    this.location = s3Url(config.bucket, config.prefix)
    this.#endpoint = config.endpoint ?? 'AWS S3'
    this.#client = createS3Client(config, this.#counters)
    this.#cache = new SegmentCache(config.cacheBytes ?? DEFAULT_CACHE_BYTES, async (key, start, end) => await this.#getRange(key, start, end))
    this.directory = {
      mkdir: async () => { await mkdir(this.#config.stagingDir, { recursive: true, mode: 0o700 }) },
      readdir: async () => await this.#list(),
      // right after a listing (recovery, rebuild, stats) its sizes serve: packs are written once
      size: async (path) => this.#listed.get(this.#keyOf(path)) ?? await this.#size(this.#keyOf(path)),
      unlink: async (path) => { await this.#delete(this.#keyOf(path)) },
      // a PUT or DELETE is durable once acknowledged
      sync: async () => {}
    }
  }

  /**
   * Checks the bucket and the credentials, takes the prefix's lock, aborts multipart uploads a
   * killed Core left behind and deletes its staging files. Every failure is one line naming the
   * bucket.
   */
  static async open (config: S3PackStorageOptions): Promise<S3PackStorage> {
    const storage = new S3PackStorage(config)
    try {
      await storage.#run('checking the bucket', async (c) => await c.send(new HeadBucketCommand({ Bucket: config.bucket })))
      if (config.noLock !== true) {
        storage.#lock = await storage.#run('taking the lock of the prefix', async (c) => await PrefixLock.take(c, config.bucket, storage.#key(LOCK_NAME), storage.location, config.owner, config.lockRenewMs))
        await storage.#abortIncompleteUploads()
        await storage.#clearStaging()
      }
      return storage
    } catch (err) {
      storage.#client.destroy()
      throw err
    }
  }

  openFile = async (path: string, flags: string): Promise<PackFileHandle> => {
    const key = this.#keyOf(path)
    if (flags === 'r') return new ObjectReadHandle(this, key, this.#listed.get(key) ?? await this.#size(key, path))
    if (flags === 'wx') return await this.#createStaging(path, key)
    if (flags === 'r+') return new ObjectRewriteHandle(this, key, await this.#size(key, path))
    throw new Error(`pack storage ${this.location}: unsupported open mode ${flags}`)
  }

  usage (): StorageUsage {
    return {
      kind: 's3',
      location: this.location,
      requests: { ...this.#counters.requests },
      errors: { ...this.#counters.errors },
      retries: this.#counters.retries,
      bytesUploaded: this.#bytesUploaded,
      bytesDownloaded: this.#bytesDownloaded,
      cache: { bytes: this.#cache.bytes, limit: this.#cache.limit, hits: this.#cache.hits, misses: this.#cache.misses }
    }
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    try {
      await this.#lock?.release()
    } catch (err) {
      log('releasing the lock of %s failed: %s', this.location, (err as Error).message)
    }
    this.#cache.clear()
    this.#client.destroy()
  }

  /** Reads `length` bytes at `position` of `key` (`size` bytes) through the cache. */
  async read (key: string, size: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return await this.#cache.read(key, size, position, length, buffer, offset)
  }

  /** Uploads the staged file of `key` whole; resolves once the object store acknowledged it. */
  async upload (key: string, file: string, size: number): Promise<void> {
    this.#cache.invalidate(key)
    await this.#run(`uploading ${this.#url(key)}`, async (client) => {
      const partSize = this.#config.partBytes ?? PART_SIZE
      if (size <= partSize) {
        const body = await readFile(file)
        await client.send(new PutObjectCommand({ Bucket: this.#config.bucket, Key: key, Body: body, ContentLength: body.length }))
      } else {
        // an upload that fails is aborted here; one cut short by a crash is aborted on the next open
        await new Upload({ client, params: { Bucket: this.#config.bucket, Key: key, Body: createReadStream(file) }, partSize, queueSize: PART_QUEUE, leavePartsOnError: false }).done()
      }
    })
    this.#bytesUploaded += size
    this.#listed.set(key, size)
  }

  /** Replaces object `key` by its first `length` bytes (recovery cutting an uncommitted tail). */
  async truncate (key: string, length: number): Promise<void> {
    const head = length === 0 ? new Uint8Array(0) : await this.#getRange(key, 0, length)
    this.#cache.invalidate(key)
    await this.#run(`cutting ${this.#url(key)} back`, async (c) => await c.send(new PutObjectCommand({ Bucket: this.#config.bucket, Key: key, Body: head, ContentLength: head.length })))
    this.#listed.set(key, length)
  }

  #key (name: string): string {
    return this.#config.prefix === '' ? name : `${this.#config.prefix}/${name}`
  }

  /** The object key of a pack path (`s3://bucket/prefix/00000001.pack`). */
  #keyOf (path: string): string {
    return this.#key(path.slice(path.lastIndexOf('/') + 1))
  }

  #url (key: string): string {
    return `s3://${this.#config.bucket}/${key}`
  }

  async #run<T> (doing: string, call: (client: S3Client) => Promise<T>): Promise<T> {
    try {
      return await call(this.#client)
    } catch (err) {
      if (err instanceof ObjectStoreError || (err as Error).name === 'PrefixLockedError') throw err
      throw describeS3Error(err, this.#config.bucket, this.#endpoint, doing)
    }
  }

  async #size (key: string, path?: string): Promise<number> {
    try {
      const out = await this.#client.send(new HeadObjectCommand({ Bucket: this.#config.bucket, Key: key }))
      return out.ContentLength ?? 0
    } catch (err) {
      if (isNotFound(err)) {
        // what the store reads as a missing pack file
        throw Object.assign(new Error(`ENOENT: no such object, ${path ?? this.#url(key)}`), { code: 'ENOENT', errno: -2 })
      }
      throw describeS3Error(err, this.#config.bucket, this.#endpoint, `reading ${this.#url(key)}`)
    }
  }

  async #getRange (key: string, start: number, end: number): Promise<Uint8Array> {
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await this.#client.send(new GetObjectCommand({ Bucket: this.#config.bucket, Key: key, Range: `bytes=${start}-${end - 1}` }))
        const bytes = await out.Body!.transformToByteArray()
        if (bytes.length !== end - start) throw Object.assign(new Error(`short body: ${bytes.length} of ${end - start} bytes`), { code: 'ECONNRESET' })
        this.#bytesDownloaded += bytes.length
        return bytes
      } catch (err) {
        if (isNotFound(err)) throw Object.assign(new Error(`ENOENT: no such object, ${this.#url(key)}`), { code: 'ENOENT', errno: -2 })
        // the SDK retried the request; a body cut off mid-stream is retried here
        if (attempt < BODY_ATTEMPTS && (err as { $metadata?: unknown }).$metadata === undefined) {
          this.#counters.retries++
          await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt))
          continue
        }
        throw describeS3Error(err, this.#config.bucket, this.#endpoint, `reading ${this.#url(key)}`)
      }
    }
  }

  async #delete (key: string): Promise<void> {
    this.#cache.invalidate(key)
    this.#listed.delete(key)
    await this.#run(`deleting ${this.#url(key)}`, async (c) => await c.send(new DeleteObjectCommand({ Bucket: this.#config.bucket, Key: key })))
  }

  /** Names of the objects directly under the prefix (pack names and the lock). */
  async #list (): Promise<string[]> {
    const names: string[] = []
    const prefix = this.#config.prefix === '' ? '' : `${this.#config.prefix}/`
    let token: string | undefined
    do {
      const out = await this.#run('listing the packs', async (c) => await c.send(new ListObjectsV2Command({ Bucket: this.#config.bucket, Prefix: prefix, Delimiter: '/', ContinuationToken: token })))
      for (const object of out.Contents ?? []) {
        const name = object.Key!.slice(prefix.length)
        names.push(name)
        this.#listed.set(object.Key!, object.Size ?? 0)
      }
      token = out.IsTruncated === true ? out.NextContinuationToken : undefined
    } while (token !== undefined)
    return names
  }

  /** Aborts every multipart upload under the prefix: with the lock held, none is ours in flight. */
  async #abortIncompleteUploads (): Promise<void> {
    const prefix = this.#config.prefix === '' ? '' : `${this.#config.prefix}/`
    let keyMarker: string | undefined
    let uploadMarker: string | undefined
    do {
      const out = await this.#run('listing incomplete uploads', async (c) => await c.send(new ListMultipartUploadsCommand({ Bucket: this.#config.bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadMarker })))
      for (const upload of out.Uploads ?? []) {
        if (upload.Key === undefined || upload.UploadId === undefined) continue
        if (parsePackFileName(upload.Key.slice(prefix.length)) === undefined) continue
        log('aborting the incomplete upload of %s (started %s)', this.#url(upload.Key), upload.Initiated)
        await this.#run(`aborting the incomplete upload of ${this.#url(upload.Key)}`, async (c) => await c.send(new AbortMultipartUploadCommand({ Bucket: this.#config.bucket, Key: upload.Key, UploadId: upload.UploadId })))
      }
      const more = out.IsTruncated === true
      keyMarker = more ? out.NextKeyMarker : undefined
      uploadMarker = more ? out.NextUploadIdMarker : undefined
    } while (keyMarker !== undefined)
  }

  async #clearStaging (): Promise<void> {
    await mkdir(this.#config.stagingDir, { recursive: true, mode: 0o700 })
    for (const name of await readdir(this.#config.stagingDir)) {
      if (parsePackFileName(name) !== undefined) await unlink(join(this.#config.stagingDir, name))
    }
  }

  async #createStaging (path: string, key: string): Promise<PackFileHandle> {
    const name = path.slice(path.lastIndexOf('/') + 1)
    const file = join(this.#config.stagingDir, name)
    // 'w': a staging file of the same name is a leftover of a pack that never sealed
    const handle = await open(file, 'w', 0o600)
    return new StagingHandle(this, key, file, handle)
  }
}

/** A pack being written: a local file, uploaded whole by `datasync`, removed on close. */
class StagingHandle implements PackFileHandle {
  readonly #storage: S3PackStorage
  readonly #key: string
  readonly #file: string
  readonly #handle: FileHandle
  #size = 0

  constructor (storage: S3PackStorage, key: string, file: string, handle: FileHandle) {
    this.#storage = storage
    this.#key = key
    this.#file = file
    this.#handle = handle
  }

  async writev (buffers: Uint8Array[], position: number): Promise<{ bytesWritten: number }> {
    const out = await this.#handle.writev(buffers, position)
    this.#size = Math.max(this.#size, position + out.bytesWritten)
    return out
  }

  async read (buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    return await this.#handle.read(buffer, offset, length, position)
  }

  /** The seal: local bytes to disk first, so the upload reads them back as written, then the upload. */
  async datasync (): Promise<void> {
    await this.#handle.datasync()
    await this.#storage.upload(this.#key, this.#file, this.#size)
  }

  async truncate (length: number): Promise<void> {
    await this.#handle.truncate(length)
    this.#size = Math.min(this.#size, length)
  }

  async close (): Promise<void> {
    await this.#handle.close()
    await unlink(this.#file).catch(() => {})
  }
}

/** A sealed pack read by ranges. */
class ObjectReadHandle implements PackFileHandle {
  readonly #storage: S3PackStorage
  readonly #key: string
  readonly #size: number

  constructor (storage: S3PackStorage, key: string, size: number) {
    this.#storage = storage
    this.#key = key
    this.#size = size
  }

  async read (buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    return { bytesRead: await this.#storage.read(this.#key, this.#size, buffer, offset, length, position) }
  }

  async writev (): Promise<{ bytesWritten: number }> {
    throw new Error(`pack ${this.#key} is sealed: an object is not appended to`)
  }

  async datasync (): Promise<void> {}
  async truncate (_length: number): Promise<void> {
    throw new Error(`pack ${this.#key} is open for reading`)
  }

  async close (): Promise<void> {}
}

/** A sealed pack opened to be cut back to its committed length (recovery). */
class ObjectRewriteHandle extends ObjectReadHandle {
  readonly #storage: S3PackStorage
  readonly #key: string

  constructor (storage: S3PackStorage, key: string, size: number) {
    super(storage, key, size)
    this.#storage = storage
    this.#key = key
  }

  override async truncate (length: number): Promise<void> {
    await this.#storage.truncate(this.#key, length)
  }
}

export async function openS3PackStorage (options: S3PackStorageOptions): Promise<PackStorage> {
  return await S3PackStorage.open(options)
}
