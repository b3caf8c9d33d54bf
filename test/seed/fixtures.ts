/**
 * Fixtures for the seed-drive tests: a machine whose tree changes between backups, and a way to
 * give a target Core points as seed-mode replication would (each point's delta against its
 * parent only: an orphan). The Cores are test/support/core.ts's, opened without the network.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { copyFile, mkdir, open, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { promisify } from 'node:util'
import { CID } from 'multiformats/cid'
import type { OfflineCore } from '../../src/core/index.ts'
import type { SeedCreateResult } from '../../src/seed/api.ts'
import { diffClosure, walkClosure } from '../../src/points/closure.ts'
import { loadManifest } from '../../src/points/manifest.ts'
import { pointRecord } from '../../src/points/point-index.ts'
import { snapshotTree } from '../helpers/tree.ts'
import type { TreeEntry } from '../helpers/tree.ts'

const execFileAsync = promisify(execFile)

export interface Point {
  id: string
  seq: number
  /** the tree as it was backed up */
  snapshot: Record<string, TreeEntry>
}

/** A protected machine: a directory tree that changes a little between backups. */
export class Machine {
  readonly name: string
  readonly tree: string
  readonly points: Point[] = []
  #step = 0

  constructor (name: string, tree: string) {
    this.name = name
    this.tree = tree
  }

  /** The first tree: about 1.4 MiB in a few files, plus `shared` when given (the same bytes on another machine). */
  async create (shared?: Uint8Array): Promise<void> {
    await mkdir(join(this.tree, 'docs'), { recursive: true })
    await writeFile(join(this.tree, 'image.bin'), randomBytes(1024 * 1024))
    await writeFile(join(this.tree, 'docs', 'notes.txt'), `notes of ${this.name}\n`)
    await writeFile(join(this.tree, 'docs', 'report.bin'), randomBytes(200 * 1024))
    if (shared !== undefined) await writeFile(join(this.tree, 'shared.bin'), shared)
  }

  /** An edit: a new file, a line appended, 16 KiB rewritten inside the image. */
  async change (): Promise<void> {
    const step = ++this.#step
    await writeFile(join(this.tree, `step-${step}.bin`), randomBytes(96 * 1024))
    await writeFile(join(this.tree, 'docs', 'notes.txt'), `notes of ${this.name}\n${'change\n'.repeat(step)}`)
    const image = await open(join(this.tree, 'image.bin'), 'r+')
    await image.write(randomBytes(16 * 1024), 0, 16 * 1024, (step * 200 * 1024) % (1024 * 1024 - 16 * 1024))
    await image.close()
  }

  /** Takes a recovery point of the tree on `core`. */
  async backup (core: OfflineCore): Promise<Point> {
    const snapshot = await snapshotTree(this.tree)
    const result = await core.run('backup', { machine: this.name, volumes: [{ name: 'data', path: this.tree }] }) as { point: string, seq: number }
    const point = { id: result.point, seq: result.seq, snapshot }
    this.points.push(point)
    return point
  }
}

/**
 * Gives `target` a point of `source` the way seed-mode replication does: only the blocks of its
 * delta against its parent, recorded in `tenant` as received from the source. The point is an
 * orphan until the older blocks arrive.
 */
export async function receiveDelta (source: OfflineCore, target: OfflineCore, point: string, parent: string, tenant: string): Promise<void> {
  const signed = await loadManifest(source.store, point)
  const writer = target.store.writer()
  for await (const cid of diffClosure(source.store, signed, await loadManifest(source.store, parent))) {
    await writer.put(cid, await source.store.get(cid))
  }
  await writer.commit()
  await target.points.record(pointRecord(signed, { tenant, complete: false, receivedFrom: source.peerId, receivedAt: new Date().toISOString() }))
  await target.points.checkCompleteness(target.store, point)
}

/** Every block of a point's closure (CID strings). */
export async function closureOf (core: OfflineCore, point: string): Promise<Set<string>> {
  const cids = new Set<string>()
  for await (const cid of walkClosure(core.store, await loadManifest(core.store, point))) cids.add(cid.toString())
  return cids
}

/** CID strings of every block in a Core's store. */
export async function storedBlocks (core: OfflineCore): Promise<Set<string>> {
  const cids = new Set<string>()
  for await (const { cid } of core.store.entries()) cids.add(cid.toString())
  return cids
}

/** Rehashes every block of a Core's store; returns the CIDs that failed. */
export async function corruptBlocks (core: OfflineCore): Promise<string[]> {
  const bad: string[] = []
  for await (const r of core.store.verifyAll()) if (!r.ok) bad.push(r.cid.toString())
  return bad
}

/**
 * Turns a seed's `.car.zst` parts into plain `.car` parts with the standard zstd tool, in place
 * (`seed.parts` then names them): what any CAR tool reads, and the parts of seeds written
 * before `.car.zst`, which consume still takes.
 */
export async function decompressParts (seed: SeedCreateResult): Promise<void> {
  for (const part of seed.parts) {
    const car = part.file.replace(/\.zst$/, '')
    assert.notEqual(car, part.file, `${part.file} is a .car.zst part`)
    await execFileAsync('zstd', ['-d', '-q', '--rm', '-o', car, part.file])
    part.file = car
    part.size = (await stat(car)).size
  }
}

/** The part files (`.car.zst`, or `.car`) of a directory, sorted by name (so by part number). */
export async function carFiles (dir: string): Promise<string[]> {
  return (await readdir(dir)).filter(n => n.endsWith('.car') || n.endsWith('.car.zst')).sort().map(n => join(dir, n))
}

/** A fresh directory holding copies of the given files (a removable drive holding some parts). */
export async function driveWith (parent: string, name: string, files: string[]): Promise<string> {
  const dir = join(parent, name)
  await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
  for (const file of files) await copyFile(file, join(dir, basename(file)))
  return dir
}

export function cid (text: string): CID {
  return CID.parse(text)
}
