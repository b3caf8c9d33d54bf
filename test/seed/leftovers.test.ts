import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import type { OfflineCore } from '../../src/core/index.ts'
import { removeUnfinishedSeeds, unfinishedParts } from '../../src/seed/leftovers.ts'
import type { SeedCreateResult } from '../../src/seed/api.ts'
import { Machine } from './fixtures.ts'
import { openOfflineCore } from '../support/core.ts'
import { tempDir } from '../support/dirs.ts'

/**
 * What `seed create` clears from its folder before writing: only what an interrupted run of
 * this Core left (a kill -9 leaves `.car.partial` files and finished parts of a seed it never
 * recorded). Everything else in the folder is someone's data and stays.
 */
describe('seed create removes only what an interrupted seed create of this Core left', { timeout: 60_000 }, () => {
  let work: string
  let hq: OfflineCore
  let other: OfflineCore
  const seeds: Record<string, SeedCreateResult> = {}

  before(async () => {
    work = await tempDir()
    ;[hq, other] = [await openOfflineCore('hq', work), await openOfflineCore('other', work)]
    for (const [core, name] of [[hq, 'web01'], [other, 'db01']] as const) {
      const machine = new Machine(name, join(work, name))
      await machine.create()
      await machine.backup(core)
    }
    seeds.recorded = await hq.run('seedCreate', { out: join(work, 'recorded'), machines: ['web01'], maxSize: '512K' }) as SeedCreateResult
    seeds.unrecorded = await hq.run('seedCreate', { out: join(work, 'unrecorded'), machines: ['web01'], maxSize: '512K' }) as SeedCreateResult
    seeds.foreign = await other.run('seedCreate', { out: join(work, 'foreign'), machines: ['db01'], maxSize: '512K' }) as SeedCreateResult
  })
  after(async () => {
    await Promise.all([hq?.close(), other?.close()])
    await rm(work, { recursive: true, force: true })
  })

  test('unfinished parts and parts of seeds this Core never recorded go; recorded seeds, other Cores\' seeds and other files stay', async () => {
    const dir = join(work, 'mixed')
    await mkdir(dir)
    for (const seed of Object.values(seeds)) for (const part of seed.parts) await copyFile(part.file, join(dir, basename(part.file)))
    const partial = `${seeds.unrecorded.seed}-0002.car.partial`
    await writeFile(join(dir, partial), 'the first bytes of a part')
    // named like a part, but not one: nobody can tell whose it is, so it stays
    await writeFile(join(dir, 'bafybeigarbage-0001.car'), 'not a CAR file')
    await writeFile(join(dir, 'notes.txt'), 'drive 1 of 3')

    const removed = await removeUnfinishedSeeds(dir, hq.peerId, async seed => seed === seeds.recorded.seed)
    const names = (seed: SeedCreateResult): string[] => seed.parts.map(p => basename(p.file))
    assert.deepEqual(removed, [...names(seeds.unrecorded), partial].sort())
    assert.deepEqual((await readdir(dir)).sort(), [...names(seeds.recorded), ...names(seeds.foreign), 'bafybeigarbage-0001.car', 'notes.txt'].sort())
  })

  test('a folder that does not exist yet has nothing to clear', async () => {
    assert.deepEqual(await removeUnfinishedSeeds(join(work, 'new'), hq.peerId, async () => false), [])
  })

  test('only <seed>-<number>.car.partial names are unfinished parts', () => {
    assert.deepEqual(unfinishedParts(['bafyreiabc-0001.car.partial', 'bafyreiabc-0002.car', 'notes.partial', 'x-0001.car.partial', 'bafyreiabc-0003.car.partial.bak']), ['bafyreiabc-0001.car.partial'])
  })
})

test('a seed folder that is a file is one sentence naming it, not the system\'s ENOTDIR message', { timeout: 10_000 }, async () => {
  const work = await tempDir()
  try {
    const file = join(work, 'not-a-dir')
    await writeFile(file, 'x')
    await assert.rejects(removeUnfinishedSeeds(file, 'self', async () => true), (err: Error) =>
      err.message === `--out ${file} is a file, not a directory: give a directory (it is created when missing)`)
  } finally {
    await rm(work, { recursive: true, force: true })
  }
})
