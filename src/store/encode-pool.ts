import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { COMPRESS, KEEP, VERIFY } from './encode-worker.ts'
import type { EncodeReply, EncodeRequest, StoredClaim } from './encode-worker.ts'

export type { StoredClaim } from './encode-worker.ts'

/** A batch is sent once it holds this many bytes or blocks, else on the next turn of the event loop. */
const BATCH_BYTES = 1024 * 1024
const BATCH_BLOCKS = 512
/** Bytes handed to the pool and not encoded yet, above which writers wait (see `ready`). */
const MAX_OUTSTANDING = 8 * 1024 * 1024

/** The body of a pack record: the block, or a zstd frame of it when `flags` says so. */
export interface EncodedBody {
  flags: number
  body: Uint8Array
  /**
   * Says the body is no longer needed (its pack write is done). `body` is a view of a buffer
   * shared with the other blocks of its batch; once every one of them is released the buffer is
   * freed at once rather than when garbage collection gets to it (a backup's peak RSS: a batch
   * kept until its pack write is done outlives the young generation, and old-generation
   * buffers were freed only tens of MiB later). Optional: an unreleased body is collected as
   * garbage. After it, `body` must not be read.
   */
  release?: () => void
}

/**
 * A block copied into the batch that goes to a worker next, not yet handed over. `bytes` is the
 * copy: the caller hashes it (what is stored is then exactly what was hashed), then either
 * `commit`s it or `release`s it (a duplicate). Both must happen before anything else uses the
 * pool: the batch may be sent, and its buffer given to a worker, as soon as they return.
 */
export interface Reservation {
  readonly bytes: Uint8Array
  /** hands the copy to a worker: compressed when `compress` and zstd makes it smaller */
  commit (compress: boolean): Promise<EncodedBody>
  /**
   * hands the copy (a stored body) to a worker that proves it against `claim`; resolves to the
   * body unchanged, in the batch buffer like a committed body (so `release` it once it is no
   * longer needed), rejects with `StoredBodyError` saying what is wrong (nothing to release)
   */
  verify (claim: StoredClaim): Promise<EncodedBody>
  /** gives the room back (the block was not needed) */
  release (): void
}

/**
 * What the pool was asked to do: `encoded` blocks (compressed or kept as they are) and `proved`
 * stored bodies (decompressed and hashed against their CID). Each proof costs a copy and a
 * decompression of the body, so a path that proves a block twice shows here.
 */
export interface EncoderCounts {
  encoded: number
  proved: number
}

/** A stored body did not prove its claim (the worker's reason in `message`). */
export class StoredBodyError extends Error {
  override name = 'StoredBodyError'
}

interface Job {
  length: number
  resolve: (body: EncodedBody) => void
  reject: (err: Error) => void
}

interface PoolWorker {
  worker: Worker
  /** batches sent and not answered, by id */
  inflight: Map<number, Job[]>
}

/**
 * Encodes block bodies on worker threads, in batches (see encode-worker.ts). Measured on 4 KiB
 * blocks, a one-shot `zstdCompress` on the libuv pool costs about 175 µs of CPU per block and
 * `zstdCompressSync` about 50 µs; a batch of synchronous calls in a worker keeps that per-call
 * cost off the main thread (which chunks and hashes) and on another core.
 *
 * Ownership: `reserve` copies the caller's bytes into the batch buffer before it returns, so the
 * caller may reuse its buffer at once. The copy is the caller's to hash until it commits; from
 * then on only the worker reads it (the batch buffer is transferred), and the bodies that come
 * back are views of a buffer only the caller holds.
 *
 * Workers start on first use and are unreferenced while idle, so they never keep a process alive.
 */
export class EncodePool {
  readonly #size: number
  readonly #level: number
  readonly #workers: PoolWorker[] = []
  #batch: Job[] = []
  #input: Uint8Array<ArrayBuffer> | undefined
  #compress: Uint8Array<ArrayBuffer> = new Uint8Array(BATCH_BLOCKS)
  /** the claims of the batch's VERIFY jobs, by position (undefined while there are none) */
  #claims: Array<StoredClaim | null> | undefined
  /** a reservation not committed or released yet */
  #open = false
  #batchBytes = 0
  #scheduled = false
  #nextId = 0
  /** bytes given to `encode` whose answers have not come back */
  #outstanding = 0
  #waiters: Array<() => void> = []
  readonly #counts: EncoderCounts = { encoded: 0, proved: 0 }

  constructor (size: number, level: number) {
    this.#size = size
    this.#level = level
  }

  /**
   * Undefined when the workers keep up, else a promise that resolves once they have caught up:
   * a writer awaits it, so blocks waiting to be encoded (copies of their bytes) stay bounded.
   */
  ready (): Promise<void> | undefined {
    if (this.#outstanding <= MAX_OUTSTANDING) return undefined
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  /** Jobs handed to the workers since the process started (see `EncoderCounts`). */
  get counts (): EncoderCounts {
    return { ...this.#counts }
  }

  /**
   * Copies `bytes` into the batch that goes to a worker next (see `Reservation`). One reservation
   * at a time: commit or release it before the next.
   */
  reserve (bytes: Uint8Array): Reservation {
    if (this.#open) throw new Error('the previous reservation was neither committed nor released')
    if (this.#input !== undefined && this.#batchBytes + bytes.length > this.#input.length) this.#send()
    this.#input ??= new Uint8Array(Math.max(BATCH_BYTES, bytes.length))
    const at = this.#batchBytes
    const copy = this.#input.subarray(at, at + bytes.length)
    copy.set(bytes)
    this.#open = true
    let done = false
    const settle = (): void => {
      if (done) throw new Error('a reservation is committed or released once')
      done = true
      this.#open = false
    }
    return {
      bytes: copy,
      commit: (compress: boolean): Promise<EncodedBody> => {
        settle()
        return this.#commit(bytes.length, compress ? COMPRESS : KEEP)
      },
      verify: (claim: StoredClaim): Promise<EncodedBody> => {
        settle()
        return this.#commit(bytes.length, VERIFY, claim)
      },
      release: (): void => {
        settle()
      }
    }
  }

  #commit (length: number, kind: number, claim?: StoredClaim): Promise<EncodedBody> {
    const position = this.#batch.length
    this.#compress[position] = kind
    if (kind === VERIFY) this.#counts.proved++
    else this.#counts.encoded++
    if (claim !== undefined) {
      this.#claims ??= []
      this.#claims[position] = { flags: claim.flags, rawLength: claim.rawLength, digest: Uint8Array.from(claim.digest) }
    }
    this.#batchBytes += length
    this.#outstanding += length
    const promise = new Promise<EncodedBody>((resolve, reject) => {
      this.#batch.push({ length, resolve, reject })
    })
    if (this.#batchBytes >= BATCH_BYTES || this.#batch.length >= BATCH_BLOCKS) {
      this.#send()
    } else if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => {
        this.#scheduled = false
        this.#send()
      })
    }
    return promise
  }

  #settled (bytes: number): void {
    this.#outstanding -= bytes
    if (this.#outstanding <= MAX_OUTSTANDING / 2) for (const wake of this.#waiters.splice(0)) wake()
  }

  #send (): void {
    const jobs = this.#batch
    const input = this.#input
    if (jobs.length === 0 || input === undefined) return
    if (this.#open) throw new Error('a batch was sent with a reservation open')
    const compress = this.#compress.slice(0, jobs.length)
    const claims = this.#claims
    this.#claims = undefined
    this.#batch = []
    let transfer: ArrayBuffer
    if (this.#batchBytes <= input.length / 4) {
      // a batch sent mostly empty (the event loop turned: blocks arriving from a peer a few at a
      // time) goes as a copy of its bytes, and its buffer takes the next batch: a new 1 MiB
      // buffer for every few small blocks cost more (zeroing it, moving it to the worker, its
      // garbage) than the blocks' proof
      transfer = input.buffer.slice(0, this.#batchBytes)
    } else {
      transfer = input.buffer
      this.#input = undefined
    }
    this.#batchBytes = 0
    const lengths = jobs.map((job) => job.length)
    let target: PoolWorker
    try {
      target = this.#pick()
    } catch (err) {
      this.#settled(sum(lengths))
      for (const job of jobs) job.reject(err as Error)
      return
    }
    const id = this.#nextId++
    if (target.inflight.size === 0) target.worker.ref()
    target.inflight.set(id, jobs)
    const request: EncodeRequest = { id, input: transfer, lengths, compress, level: this.#level }
    if (claims !== undefined) request.expect = Array.from({ length: jobs.length }, (_, i) => claims[i] ?? null)
    target.worker.postMessage(request, [transfer])
  }

  /** The least busy worker, starting a new one while there are fewer than `size`. */
  #pick (): PoolWorker {
    let best: PoolWorker | undefined
    for (const w of this.#workers) if (best === undefined || w.inflight.size < best.inflight.size) best = w
    if (best !== undefined && (best.inflight.size === 0 || this.#workers.length >= this.#size)) return best
    return this.#start()
  }

  #start (): PoolWorker {
    // The worker's own garbage is one output Buffer per block: a small young generation keeps
    // its heap (and the process's RSS) small.
    const worker = new Worker(new URL('./encode-worker.ts', import.meta.url), { resourceLimits: { maxYoungGenerationSizeMb: 4 } })
    worker.unref()
    const pw: PoolWorker = { worker, inflight: new Map() }
    this.#workers.push(pw)
    worker.on('message', (reply: EncodeReply) => {
      const jobs = pw.inflight.get(reply.id)
      if (jobs === undefined) return
      pw.inflight.delete(reply.id)
      this.#settled(sum(jobs.map((job) => job.length)))
      if (pw.inflight.size === 0) worker.unref()
      if (reply.error !== undefined) {
        for (const job of jobs) job.reject(new Error(`block encoder: ${reply.error}`))
        return
      }
      const output = reply.output as ArrayBuffer
      const sizes = reply.sizes as number[]
      const flags = reply.flags as number[]
      const errors = reply.errors ?? []
      let unreleased = jobs.length
      const release = (): void => {
        // detaching the buffer frees its memory now; every view of it reads as empty from here
        if (--unreleased === 0) output.transfer(0)
      }
      let offset = 0
      for (let i = 0; i < jobs.length; i++) {
        const error = errors[i]
        if (error != null) {
          // a refused stored body has no room in the buffer (size 0) and nobody to release it
          jobs[i].reject(new StoredBodyError(error))
          release()
          continue
        }
        let released = false
        const body = new Uint8Array(output, offset, sizes[i])
        jobs[i].resolve({
          flags: flags[i],
          body,
          release: () => {
            if (released) return
            released = true
            release()
          }
        })
        offset += sizes[i]
      }
    })
    const fail = (err: Error): void => {
      const i = this.#workers.indexOf(pw)
      if (i >= 0) this.#workers.splice(i, 1)
      for (const jobs of pw.inflight.values()) {
        this.#settled(sum(jobs.map((job) => job.length)))
        for (const job of jobs) job.reject(err)
      }
      pw.inflight.clear()
    }
    worker.on('error', fail)
    worker.on('exit', (code) => fail(new Error(`block encoder worker exited with code ${code}`)))
    return pw
  }
}

function sum (values: number[]): number {
  let total = 0
  for (const v of values) total += v
  return total
}

/** One worker per core beyond the main thread's, at least one, at most three. */
export const POOL_SIZE = Math.max(1, Math.min(3, availableParallelism() - 1))
