import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'

/** A batch is sent once it holds this many bytes or blocks, else on the next turn of the event loop. */
const BATCH_BYTES = 1024 * 1024
const BATCH_BLOCKS = 512
/** Bytes handed to the pool and not compressed yet, above which writers wait (see `ready`). */
const MAX_OUTSTANDING = 8 * 1024 * 1024

interface Job {
  length: number
  resolve: (body: Uint8Array | undefined) => void
  reject: (err: Error) => void
}

interface PoolWorker {
  worker: Worker
  /** batches sent and not answered, by id */
  inflight: Map<number, Job[]>
}

/**
 * Compresses block bodies on worker threads, in batches. Measured on 4 KiB blocks, a one-shot
 * `zstdCompress` on the libuv pool costs about 175 µs of CPU per block (a context set up and torn
 * down, a thread-pool round trip) and `zstdCompressSync` about 50 µs; a batch of synchronous calls
 * in a worker keeps that per-call cost off the main thread (which chunks and hashes) and on
 * another core, with one message each way per batch instead of one pool trip per block.
 *
 * Workers start on first use and are unreferenced while idle, so they never keep a process alive.
 */
export class ZstdPool {
  readonly #size: number
  readonly #level: number
  readonly #workers: PoolWorker[] = []
  #batch: Job[] = []
  /** the batch's blocks, copied in as they arrive: a caller may reuse its buffer at once */
  #input: Uint8Array<ArrayBuffer> | undefined
  #batchBytes = 0
  #scheduled = false
  #nextId = 0
  /** bytes given to `compress` whose answers have not come back */
  #outstanding = 0
  #waiters: Array<() => void> = []

  constructor (size: number, level: number) {
    this.#size = size
    this.#level = level
  }

  /**
   * Undefined when the workers keep up, else a promise that resolves once they have caught up:
   * a writer awaits it, so blocks waiting for compression (copies of their bytes) stay bounded.
   */
  ready (): Promise<void> | undefined {
    if (this.#outstanding <= MAX_OUTSTANDING) return undefined
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  #settled (bytes: number): void {
    this.#outstanding -= bytes
    if (this.#outstanding <= MAX_OUTSTANDING / 2) for (const wake of this.#waiters.splice(0)) wake()
  }

  /**
   * The zstd frame of `bytes`, or undefined when it is not smaller than `bytes`. `bytes` is copied
   * before this returns, so the caller may reuse its buffer.
   */
  async compress (bytes: Uint8Array): Promise<Uint8Array | undefined> {
    return await new Promise((resolve, reject) => {
      if (this.#input !== undefined && this.#batchBytes + bytes.length > this.#input.length) this.#send()
      this.#input ??= new Uint8Array(Math.max(BATCH_BYTES, bytes.length))
      this.#input.set(bytes, this.#batchBytes)
      this.#batch.push({ length: bytes.length, resolve, reject })
      this.#batchBytes += bytes.length
      this.#outstanding += bytes.length
      if (this.#batchBytes >= BATCH_BYTES || this.#batch.length >= BATCH_BLOCKS) {
        this.#send()
      } else if (!this.#scheduled) {
        this.#scheduled = true
        setImmediate(() => {
          this.#scheduled = false
          this.#send()
        })
      }
    })
  }

  #send (): void {
    const jobs = this.#batch
    const input = this.#input
    if (jobs.length === 0 || input === undefined) return
    this.#batch = []
    this.#input = undefined
    this.#batchBytes = 0
    const lengths = jobs.map((job) => job.length)
    let target: PoolWorker
    try {
      target = this.#pick()
    } catch (err) {
      this.#settled(lengths.reduce((sum, length) => sum + length, 0))
      for (const job of jobs) job.reject(err as Error)
      return
    }
    const id = this.#nextId++
    if (target.inflight.size === 0) target.worker.ref()
    target.inflight.set(id, jobs)
    target.worker.postMessage({ id, input: input.buffer, lengths, level: this.#level }, [input.buffer])
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
    const worker = new Worker(new URL('./zstd-worker.ts', import.meta.url), { resourceLimits: { maxYoungGenerationSizeMb: 4 } })
    worker.unref()
    const pw: PoolWorker = { worker, inflight: new Map() }
    this.#workers.push(pw)
    worker.on('message', (msg: { id: number, output?: ArrayBuffer, sizes?: number[], error?: string }) => {
      const jobs = pw.inflight.get(msg.id)
      if (jobs === undefined) return
      pw.inflight.delete(msg.id)
      this.#settled(jobs.reduce((sum, job) => sum + job.length, 0))
      if (pw.inflight.size === 0) worker.unref()
      if (msg.error !== undefined) {
        for (const job of jobs) job.reject(new Error(`zstd: ${msg.error}`))
        return
      }
      const output = msg.output as ArrayBuffer
      const sizes = msg.sizes as number[]
      let offset = 0
      for (let i = 0; i < jobs.length; i++) {
        const size = sizes[i]
        if (size < 0) {
          jobs[i].resolve(undefined)
        } else {
          jobs[i].resolve(new Uint8Array(output, offset, size))
          offset += size
        }
      }
    })
    const fail = (err: Error): void => {
      const i = this.#workers.indexOf(pw)
      if (i >= 0) this.#workers.splice(i, 1)
      for (const jobs of pw.inflight.values()) {
        this.#settled(jobs.reduce((sum, job) => sum + job.length, 0))
        for (const job of jobs) job.reject(err)
      }
      pw.inflight.clear()
    }
    worker.on('error', fail)
    worker.on('exit', (code) => fail(new Error(`zstd worker exited with code ${code}`)))
    return pw
  }
}

/** One worker per core beyond the main thread's, at least one, at most three. */
export const POOL_SIZE = Math.max(1, Math.min(3, availableParallelism() - 1))
