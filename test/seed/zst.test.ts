import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { copyFile, mkdir, open, readFile, rm, truncate, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { promisify } from 'node:util'
import { CarBlockIterator } from '@ipld/car'
import type { VerifyReport } from '../../src/core/index.ts'
import type { OfflineCore } from '../../src/core/index.ts'
import { SeedPartReader } from '../../src/seed/part-reader.ts'
import type { SeedConsumeResult, SeedCreateResult } from '../../src/seed/api.ts'
import { encoderCounts } from '../../src/store/compression.ts'
import { FLAG_ZSTD } from '../../src/store/pack-format.ts'
import { zstdFrameInfo } from '../../src/store/zstd-frame.ts'
import { checkRealDataTools, compareTrees, copyCorpus } from '../helpers/real-data.ts'
import type { Corpus } from '../helpers/real-data.ts'
import { decompressParts, driveWith } from './fixtures.ts'
import { openOfflineCore } from '../support/core.ts'
import { tempDir } from '../support/dirs.ts'

const execFileAsync = promisify(execFile)
const MiB = 1024 * 1024

/** Every zstd frame of a file: where it starts, and whether it is raw. */
async function framesOf (file: string): Promise<Array<{ start: number, length: number, raw: boolean }>> {
  const bytes = await readFile(file)
  const frames = []
  for (let at = 0; at < bytes.length;) {
    const info = zstdFrameInfo(bytes, at)
    assert.ok(info !== undefined, `${file}: a whole frame at byte ${at}`)
    frames.push({ start: at, length: info.length, raw: info.raw })
    at += info.length
  }
  return frames
}

async function storedSizes (core: OfflineCore): Promise<Map<string, number>> {
  const sizes = new Map<string, number>()
  for await (const e of core.store.entries()) sizes.set(e.cid.toString(), e.storedSize)
  return sizes
}

/**
 * `.car.zst` parts on real data (copies of system directories): what they carry is what the
 * source stores, byte for byte; the standard zstd tool turns them into CARv1 files any CAR tool
 * reads; consume stores each block as it came; plain `.car` parts of older seeds still consume;
 * damaged parts are named in one line.
 */
describe('seed parts as .car.zst: stored bodies, standard tools, one line for bad input', { timeout: 300_000 }, () => {
  let work: string
  let corpus: Corpus
  let hq: OfflineCore
  let seed: SeedCreateResult
  let point: string

  const target = async (name: string): Promise<OfflineCore> => {
    const core = await openOfflineCore(name, work)
    await core.peers.allow(hq.peerId, { name: 'hq', tenant: 'site-a' })
    return core
  }

  before(async () => {
    await checkRealDataTools()
    work = await tempDir()
    corpus = await copyCorpus(join(work, 'corpus'), [
      { path: '/usr/bin', maxBytes: 3 * MiB },
      { path: '/usr/include', maxBytes: 2 * MiB },
      { path: '/etc' }
    ])
    hq = await openOfflineCore('hq', work)
    point = (await hq.run('backup', { machine: 'web01', volumes: [{ name: 'data', path: corpus.dir }] }) as { point: string }).point
    seed = await hq.run('seedCreate', { out: join(work, 'seed'), machines: ['web01'], maxSize: '2M' }) as SeedCreateResult
    assert.ok(seed.parts.length >= 2)
  })
  after(async () => {
    await hq.close()
    await rm(work, { recursive: true, force: true })
  })

  test('seed bytes stay within 1.1x the stored bytes of the blocks they carry, each compressed block being its stored zstd frame byte for byte', async (t) => {
    const sizes = await storedSizes(hq)
    let stored = 0
    let seedBytes = 0
    let frames = 0
    for (const part of seed.parts) {
      seedBytes += part.size
      const reader = await SeedPartReader.open(part.file)
      for await (const section of reader.sections()) {
        assert.ok(section.valid, `${part.file}: ${section.cid}`)
        stored += sizes.get(section.cid.toString())!
        const mine = await hq.store.getStored(section.cid)
        if ((mine.flags & FLAG_ZSTD) !== 0 && mine.rawLength > 0) {
          frames++
          assert.equal(section.stored.flags, FLAG_ZSTD)
          assert.ok(Buffer.from(section.stored.body).equals(mine.body), `block ${section.cid} is its stored frame`)
        } else {
          assert.equal(section.stored.flags, 0)
        }
      }
      await reader.close()
    }
    const raw = (await hq.store.stats()).rawBytes
    t.diagnostic(`${seed.blocks} blocks: ${raw} bytes raw, ${stored} stored, ${seedBytes} in ${seed.parts.length} parts (${(seedBytes / stored).toFixed(3)}x stored); ${frames} carried as their zstd frame`)
    assert.ok(frames > 0)
    assert.ok(seedBytes <= 1.1 * stored, `${seedBytes} seed bytes for ${stored} stored bytes`)
    assert.ok(stored < 0.8 * raw, 'real data: the store compressed it')
  })

  test('the standard zstd tool checks each part and decompresses it to a CARv1 that @ipld/car reads, every block hashing to its CID', async () => {
    const out = join(work, 'plain')
    await mkdir(out)
    let blocks = 0
    for (const part of seed.parts) {
      await execFileAsync('zstd', ['-t', '-q', part.file])
      const car = join(out, basename(part.file, '.zst'))
      await execFileAsync('zstd', ['-d', '-q', '-o', car, part.file])
      const iterator = await CarBlockIterator.fromIterable(createReadStream(car))
      assert.equal(iterator.version, 1)
      for await (const { cid, bytes } of iterator) {
        assert.equal(cid.multihash.code, 0x12)
        assert.ok(createHash('sha256').update(bytes).digest().equals(cid.multihash.digest), `${car}: block ${cid}`)
        blocks++
      }
    }
    assert.equal(blocks, seed.blocks + 2 * seed.parts.length, 'every data block, and both descriptors of every part')
  })

  test('consume proves each block once (one proof on the encoder per block, not one in the reader and one in the writer), stores it as the part carried it, and the point restores as it was backed up', async () => {
    const dr = await target('dr')
    try {
      const before = encoderCounts()
      const result = await dr.run('seedConsume', { dir: join(work, 'seed') }) as SeedConsumeResult
      const after = encoderCounts()
      assert.deepEqual(result.errors, [])
      assert.equal(result.blocks, seed.blocks)
      assert.equal(after.proved - before.proved, seed.blocks, `${seed.blocks} blocks, ${after.proved - before.proved} proofs`)
      assert.equal(after.encoded - before.encoded, 0, 'nothing compressed again')
      assert.deepEqual(result.pointsCompleted, [point])
      const [mine, theirs] = [await storedSizes(hq), await storedSizes(dr)]
      for (const [cid, size] of mine) assert.equal(theirs.get(cid), size, `block ${cid} stored as it came`)
      assert.equal(((await dr.run('verify', {})) as VerifyReport).ok, true)
      const dest = join(work, 'restore-dr')
      await dr.run('restore', { machine: 'web01', point, dest })
      assert.deepEqual(await compareTrees(corpus.dir, join(dest, 'data')), [])
    } finally {
      await dr.close()
    }
  })

  test('plain .car parts (a seed written before .car.zst, here made by zstd -d) still consume', async () => {
    const copy = join(work, 'old-seed')
    await mkdir(copy)
    const parts = { ...seed, parts: [] as SeedCreateResult['parts'] }
    for (const part of seed.parts) {
      const file = join(copy, basename(part.file))
      await copyFile(part.file, file)
      parts.parts.push({ ...part, file })
    }
    await decompressParts(parts)
    const dr = await target('dr-old')
    try {
      const result = await dr.run('seedConsume', { dir: copy }) as SeedConsumeResult
      assert.deepEqual(result.errors, [])
      assert.equal(result.complete, true)
      assert.deepEqual(result.pointsCompleted, [point])
      assert.equal(((await dr.run('verify', {})) as VerifyReport).ok, true)
    } finally {
      await dr.close()
    }
  })

  describe('damaged .car.zst parts', () => {
    let dr: OfflineCore
    const consume = async (dir: string): Promise<SeedConsumeResult> => await dr.run('seedConsume', { dir }) as SeedConsumeResult
    before(async () => { dr = await target('dr-bad') })
    after(async () => { await dr.close() })

    test('a byte flipped inside a block\'s zstd frame: that block is refused, the rest of the part is kept', async () => {
      const part = seed.parts[0]
      const frames = await framesOf(part.file)
      const body = frames.find(f => !f.raw)!
      const drive = await driveWith(work, 'flipped', [part.file])
      const file = join(drive, basename(part.file))
      const handle = await open(file, 'r+')
      const at = body.start + Math.floor(body.length / 2)
      const byte = Buffer.alloc(1)
      await handle.read(byte, 0, 1, at)
      byte[0] ^= 0x5a
      await handle.write(byte, 0, 1, at)
      await handle.close()
      const result = await consume(drive)
      assert.equal(result.errors.length, 1)
      assert.match(result.errors[0], new RegExp(`^${basename(part.file)}: block \\S+ at byte \\d+ was refused: (its zstd body does not decompress|its bytes do not match its hash|it holds \\d+ bytes)[^\\n]*$`))
      assert.deepEqual(result.parts.map(p => [p.part, p.state, p.rejected, p.blocks]), [[1, 'failed', 1, part.blocks - 1]])
    })

    for (const where of ['a block\'s zstd frame', 'the raw frame of a section\'s head'] as const) {
      test(`a part cut inside ${where} is truncated, in one line, and the blocks before the cut are kept`, async () => {
        const part = seed.parts[1]
        const frames = await framesOf(part.file)
        // a frame past the first few sections, of the kind asked for
        const cut = frames.slice(4).find(f => where === 'a block\'s zstd frame' ? !f.raw : f.raw)!
        const drive = await driveWith(work, `cut-${where.length}`, [part.file])
        await truncate(join(drive, basename(part.file)), cut.start + Math.min(5, cut.length >> 1))
        const result = await consume(drive)
        assert.equal(result.errors.length, 1)
        assert.match(result.errors[0], new RegExp(`^${basename(part.file)} is truncated: it ends inside the section at byte \\d+$`))
        assert.equal(result.parts[0].state, 'failed')
        assert.ok(result.parts[0].blocks > 0, 'what came before the cut is kept')
      })
    }

    test('files that are not our zstd frames of a CAR are named in one line each', async () => {
      const drive = join(work, 'strangers')
      await mkdir(drive)
      await writeFile(join(drive, 'notes.car.zst'), 'not zstd at all\n')
      // a whole part compressed by the zstd tool: a valid .zst, but not frames drcore can cut
      await execFileAsync('zstd', ['-d', '-q', '-o', join(work, 'squeeze.car'), seed.parts[0].file])
      await execFileAsync('zstd', ['-q', '-o', join(drive, 'squeezed.car.zst'), join(work, 'squeeze.car')])
      const result = await consume(drive)
      assert.equal(result.errors.length, 2, result.errors.join('\n'))
      assert.match(result.errors[0], /^notes\.car\.zst is not a drcore seed part: it is not a CAR in zstd frames \(the file holds no zstd frame at byte 0 [^\n]*\)$/)
      assert.match(result.errors[1], /^squeezed\.car\.zst is not a drcore seed part: it is not a CAR in zstd frames \(the zstd frame at byte 0 of the file is compressed where a raw frame of CAR framing belongs\)$/)
      assert.equal(result.seed, null)
    })
  })
})
