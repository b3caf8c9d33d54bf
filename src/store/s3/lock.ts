import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import type { S3Client } from '@aws-sdk/client-s3'
import { hostname } from 'node:os'
import { debuglog } from 'node:util'
import { isNotFound } from './errors.ts'
import { PrefixLockedError } from './errors.ts'

const log = debuglog('drcore:s3')

/** How often the holder rewrites its lock object. */
export const LOCK_RENEW_MS = 60_000
/** A lock not renewed for this long is a Core that is gone: another may take the prefix. */
export const LOCK_STALE_MS = 5 * 60_000

export interface LockRecord {
  /** the peer id of the Core that holds the prefix */
  peer: string
  host: string
  pid: number
  /** ISO time of the last renewal */
  renewed: string
}

/**
 * The lock object of a prefix (`PREFIX/lock.json`): one Core writes one prefix. Taken on open
 * unless another Core's lock was renewed less than `LOCK_STALE_MS` ago; renewed every
 * `LOCK_RENEW_MS` while open; deleted on close. The same Core (same peer id) takes its own lock
 * back after a crash. Object stores without conditional writes leave a window of one round trip
 * in which two Cores starting at the same instant both take it: the lock guards against a
 * misconfiguration (two Cores pointed at one prefix), not against a race staged on purpose.
 */
export class PrefixLock {
  readonly #client: S3Client
  readonly #bucket: string
  readonly #key: string
  readonly #url: string
  readonly #peer: string
  #timer: NodeJS.Timeout | undefined

  private constructor (client: S3Client, bucket: string, key: string, url: string, peer: string) {
    this.#client = client
    this.#bucket = bucket
    this.#key = key
    this.#url = url
    this.#peer = peer
  }

  static async take (client: S3Client, bucket: string, key: string, url: string, peer: string, renewMs = LOCK_RENEW_MS): Promise<PrefixLock> {
    const now = Date.now()
    const lock = new PrefixLock(client, bucket, key, url, peer)
    const held = await lock.read()
    if (held !== undefined && held.peer !== peer) {
      const age = now - Date.parse(held.renewed)
      if (age < LOCK_STALE_MS) {
        throw new PrefixLockedError(`${url} is in use by Core ${held.peer} on ${held.host} (pid ${held.pid}, lock renewed ${held.renewed}): one Core writes one prefix; give this Core another prefix`)
      }
      log('taking the lock of %s from Core %s: not renewed since %s', url, held.peer, held.renewed)
    }
    await lock.#write()
    lock.#timer = setInterval(() => { lock.renew().catch((err) => log('renewing the lock of %s failed: %s', url, err.message)) }, renewMs)
    lock.#timer.unref()
    return lock
  }

  async read (): Promise<LockRecord | undefined> {
    try {
      const out = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: this.#key }))
      return JSON.parse(await out.Body!.transformToString()) as LockRecord
    } catch (err) {
      if (isNotFound(err)) return undefined
      if (err instanceof SyntaxError) return undefined
      throw err
    }
  }

  /** Rewrites the lock with the time now, unless another Core took it meanwhile. */
  async renew (): Promise<void> {
    const held = await this.read()
    if (held !== undefined && held.peer !== this.#peer) {
      log('the lock of %s is now held by Core %s', this.#url, held.peer)
      return
    }
    await this.#write()
  }

  async release (): Promise<void> {
    clearInterval(this.#timer)
    const held = await this.read().catch(() => undefined)
    if (held !== undefined && held.peer !== this.#peer) return
    await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#key }))
  }

  async #write (): Promise<void> {
    const record: LockRecord = { peer: this.#peer, host: hostname(), pid: process.pid, renewed: new Date().toISOString() }
    await this.#client.send(new PutObjectCommand({ Bucket: this.#bucket, Key: this.#key, Body: JSON.stringify(record), ContentType: 'application/json' }))
  }
}
