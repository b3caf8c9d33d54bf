import type { BigIntStats } from 'node:fs'
import { DEFAULT_CHUNKING } from '../chunker/index.ts'
import { Throttle } from '../common/throttle.ts'
import { InvalidInputError, NotFoundError, OperationalError } from '../errors.ts'
import { isSafeName, showPath } from '../points/names.ts'
import { isMachineName, loadManifest, parsePointId, signManifest } from '../points/manifest.ts'
import { pointRecord } from '../points/point-index.ts'
import { DEFAULT_SHAPE, validateShape } from '../points/shape.ts'
import type { Manifest, VolumeRef } from '../points/api.ts'
import { MANIFEST_VERSION, MAX_BLOCK_SIZE } from '../points/constants.ts'
import { Archiver } from './archiver.ts'
import { SmallFileReader } from './file-reader.ts'
import { isFsError, nodeBackupFs, nodeBackupSyncFs } from './fs.ts'
import type { BackupFs } from './fs.ts'
import type { BackupDeps, BackupOptions, BackupProgress, BackupResult } from './api.ts'

/**
 * Takes a recovery point of a machine: walks its volumes, stores new chunks and nodes through one
 * block writer, signs the manifest, and commits the manifest block and the point records in the
 * writer's final batch, so a point is never visible before its blocks are durable. A local point
 * is complete by construction.
 *
 * The first point of a machine (or any point with `base`) is a base image; later points are
 * incrementals whose parent is the machine's latest point in this Core's own tenant.
 */
export async function backup (deps: BackupDeps, opts: BackupOptions): Promise<BackupResult> {
  const started = performance.now()
  const fs = deps.fs ?? nodeBackupFs
  const syncFs = deps.syncFs ?? (deps.fs === undefined ? nodeBackupSyncFs : undefined)
  const shape = deps.shape ?? DEFAULT_SHAPE
  validateShape(shape)
  const chunking = { ...DEFAULT_CHUNKING, ...deps.chunking }
  if (chunking.maxSize > MAX_BLOCK_SIZE) throw new RangeError(`chunk maxSize ${chunking.maxSize} exceeds the block limit of ${MAX_BLOCK_SIZE} bytes`)
  if (!isMachineName(opts.machine)) throw new InvalidInputError(`invalid machine name: ${JSON.stringify(opts.machine)} (letters, digits, . _ - @ +; at most 128)`)
  if (opts.cluster !== undefined && !isMachineName(opts.cluster)) throw new InvalidInputError(`invalid cluster name: ${JSON.stringify(opts.cluster)}`)
  // in call order: the backup started first takes the lower seq (a stat must not overtake it)
  return await deps.points.ownChainWrites.run(opts.machine, async () => {
    const roots = await statVolumes(fs, opts.volumes)
    const origin = deps.peerId.toString()
    const latest = await deps.points.latest({ tenant: '', origin, machine: opts.machine })
    const parent = opts.base === true ? undefined : latest
    // Unchanged files are taken from the parent only when all its blocks are here: a local point
    // must be complete.
    const parentManifest = parent?.complete === true ? (await loadManifest(deps.store, parent.point)).manifest : undefined

    const writer = deps.store.writer()
    const progress = new ProgressCounters(opts.onProgress, estimateTotal(roots, parentManifest))
    let newBytes = 0
    const archiver = new Archiver({
      fs,
      writer,
      shape,
      chunking,
      small: syncFs === undefined ? undefined : new SmallFileReader(syncFs, chunking),
      rehash: opts.rehash === true,
      parentGet: parentManifest === undefined ? undefined : async cid => await deps.store.get(cid),
      onRead: bytes => progress.readBytes(bytes),
      onNewChunk: bytes => { newBytes += bytes },
      onFile: path => progress.file(path),
      onReused: bytes => progress.reused(bytes)
    })
    try {
      const volumes: Record<string, VolumeRef> = {}
      let files = 0
      for (const { name, path, stat } of roots) {
        volumes[name] = await archiver.volume(path, stat, parentVolume(parentManifest, name))
        files += volumes[name].files
      }
      const manifest: Manifest = {
        version: MANIFEST_VERSION,
        origin,
        machine: opts.machine,
        cluster: opts.cluster ?? latest?.cluster ?? null,
        seq: (latest?.seq ?? 0) + 1,
        kind: parent === undefined ? 'base' : 'incremental',
        parent: parent === undefined ? null : parsePointId(parent.point),
        createdAt: new Date().toISOString(),
        volumes,
        skipped: archiver.skipped.length
      }
      const signed = await signManifest(manifest, deps.privateKey)
      await writer.put(signed.id, signed.bytes)
      const stats = await writer.commit(deps.points.recordOps(pointRecord(signed, { tenant: '', complete: true })))
      // good copies of quarantined blocks were stored: points that lost them may be whole again
      const repaired = stats.healed > 0 ? (await deps.points.recheckOrphans(deps.store)).map(r => r.point) : []
      progress.done()
      return {
        point: signed.id.toString(),
        machine: opts.machine,
        kind: manifest.kind,
        parent: manifest.parent?.toString() ?? null,
        seq: manifest.seq,
        files,
        bytes: progress.read,
        newBytes,
        storedBytes: stats.storedBytes,
        skipped: archiver.skipped,
        partial: archiver.skipped.length > 0,
        healed: stats.healed,
        repaired: [...new Set(repaired)],
        changed: archiver.changed,
        seconds: (performance.now() - started) / 1000
      }
    } catch (err) {
      await writer.abort()
      throw err
    }
  })
}

interface VolumeRoot {
  name: string
  path: string
  stat: BigIntStats
}

/** Checks every volume before anything is written: names, existence, type. */
async function statVolumes (fs: BackupFs, volumes: BackupOptions['volumes']): Promise<VolumeRoot[]> {
  if (volumes.length === 0) throw new InvalidInputError('a backup needs at least one volume')
  const seen = new Set<string>()
  const roots: VolumeRoot[] = []
  for (const { name, path } of volumes) {
    if (!isSafeName(name)) throw new InvalidInputError(`invalid volume name: ${JSON.stringify(name)}`)
    if (seen.has(name)) throw new InvalidInputError(`two volumes are named ${JSON.stringify(name)}`)
    seen.add(name)
    let stat: BigIntStats
    try {
      stat = await fs.stat(path, { bigint: true })
    } catch (err) {
      if (isFsError(err) && err.code === 'ENOENT') throw new NotFoundError(`no such file or directory: ${path}`)
      if (isFsError(err)) throw new OperationalError(`cannot read volume ${name} at ${path}: ${err.code}`)
      throw err
    }
    if (!stat.isDirectory() && !stat.isFile()) throw new InvalidInputError(`not a directory or regular file: ${path}`)
    roots.push({ name, path, stat })
  }
  return roots
}

/**
 * Bytes the backup will go through: exact for file volumes, the parent's size for directory
 * volumes (an estimate), unknown for a first backup of a directory.
 */
function estimateTotal (roots: VolumeRoot[], parent: Manifest | undefined): number | undefined {
  let total = 0
  for (const r of roots) {
    if (r.stat.isFile()) total += Number(r.stat.size)
    else if (parentVolume(parent, r.name)?.type === 'dir') total += (parentVolume(parent, r.name) as VolumeRef).bytes
    else return undefined
  }
  return total
}

function parentVolume (parent: Manifest | undefined, name: string): VolumeRef | undefined {
  return parent !== undefined && Object.hasOwn(parent.volumes, name) ? parent.volumes[name] : undefined
}

/** What a backup has done so far, reported at most every PROGRESS_INTERVAL_MS (common/throttle.ts) and once at its end. */
class ProgressCounters {
  files = 0
  /** bytes read from disk */
  read = 0
  /** bytes read, or unchanged and taken from the parent */
  #processed = 0
  readonly #onProgress: ((p: BackupProgress) => void) | undefined
  readonly #totalBytes: number | undefined
  #path: Buffer | string = ''
  readonly #throttle = new Throttle()

  constructor (onProgress: ((p: BackupProgress) => void) | undefined, totalBytes: number | undefined) {
    this.#onProgress = onProgress
    this.#totalBytes = totalBytes
  }

  file (path: Buffer): void {
    this.files++
    this.#path = path
    this.#maybe()
  }

  readBytes (bytes: number): void {
    this.read += bytes
    this.#processed += bytes
    this.#maybe()
  }

  reused (bytes: number): void {
    this.#processed += bytes
    this.#maybe()
  }

  done (): void {
    this.#emit()
  }

  #maybe (): void {
    if (this.#onProgress === undefined || !this.#throttle.ready()) return
    this.#emit()
  }

  #emit (): void {
    const p: BackupProgress = { files: this.files, bytes: this.#processed, path: showPath(this.#path) }
    if (this.#totalBytes !== undefined) p.totalBytes = this.#totalBytes
    this.#onProgress?.(p)
  }
}
