/**
 * Seed drive throughput and memory: a repository of about `--mib` MiB (two machines sharing a
 * quarter of their data, a base and three incrementals each; half random, half text-like) is
 * written as a seed in parts of `--part` MiB, then consumed by a second repository. Reports
 * MB/s of seed bytes for both, next to what the disk gives the same process (reading every
 * pack file, writing and syncing files of the same size), CPU seconds, and the peak RSS above
 * the baseline during each phase (memory must stay flat whatever the repository's size).
 *
 *   npx node scripts/measure-seed.ts [--mib 512] [--part 100] [--dir /tmp] [--keep]
 */
import { randomBytes, randomFillSync } from 'node:crypto'
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { OfflineCore } from '../src/core/index.ts'
import type { VerifyReport } from '../src/core/index.ts'
import { initRepository } from '../src/repo/index.ts'
import type { SeedConsumeResult, SeedCreateResult } from '../src/seed/api.ts'

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '512' },
    part: { type: 'string', default: '100' },
    dir: { type: 'string', default: tmpdir() },
    keep: { type: 'boolean', default: false }
  }
})
const MiB = 1024 * 1024
const total = Number(values.mib) * MiB
const root = await mkdtemp(join(values.dir!, 'drcore-measure-seed-'))
const log = (msg: string): void => { process.stderr.write(msg + '\n') }
const cpuSeconds = (): number => { const { user, system } = process.cpuUsage(); return (user + system) / 1e6 }

/** Peak RSS above the level when it started, sampled every 20 ms. */
function rssPeak (): () => number {
  const base = process.memoryUsage().rss
  let peak = base
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 20)
  return () => {
    clearInterval(timer)
    return Math.max(peak, process.memoryUsage().rss) - base
  }
}

async function timed<T> (fn: () => Promise<T>): Promise<{ value: T, seconds: number, cpu: number, rss: number }> {
  globalThis.gc?.()
  const stop = rssPeak()
  const cpu = cpuSeconds()
  const started = performance.now()
  const value = await fn()
  return { value, seconds: (performance.now() - started) / 1000, cpu: cpuSeconds() - cpu, rss: stop() }
}

// --- a corpus: files of 8 MiB, half random, half text-like (about 3:1 under zstd) ---
const words = Array.from({ length: 300 }, (_, i) => `w${(i * 7919).toString(36)}`)
function fileBytes (i: number): Uint8Array {
  if (i % 2 === 0) return randomFillSync(new Uint8Array(8 * MiB))
  return Buffer.from(Array.from({ length: 8 * MiB / 5 }, () => words[Math.floor(Math.random() * words.length)]).join(' ')).subarray(0, 8 * MiB)
}

async function makeTree (dir: string, files: number, shared: string[]): Promise<void> {
  await mkdir(dir, { recursive: true })
  for (let i = 0; i < files; i++) await writeFile(join(dir, `file-${i}.bin`), fileBytes(i))
  for (const file of shared) await writeFile(join(dir, file.split('/').at(-1)!), await readFile(file))
}

async function change (dir: string, step: number): Promise<void> {
  const names = (await readdir(dir)).filter(n => n.startsWith('file-'))
  for (const name of names.slice(0, Math.max(1, names.length / 8))) {
    const handle = await open(join(dir, name), 'r+')
    await handle.write(randomBytes(256 * 1024), 0, 256 * 1024, (step * 1024 * 1024) % (7 * MiB))
    await handle.close()
  }
  await writeFile(join(dir, `new-${step}.bin`), randomBytes(2 * MiB))
}

const perMachine = Math.max(2, Math.round(total / 2 / (8 * MiB)))
log(`corpus: 2 machines of ${perMachine} files of 8 MiB (a quarter shared), base + 3 incrementals each, in ${root}`)
const web = join(root, 'web01')
const db = join(root, 'db01')
await makeTree(web, perMachine, [])
const sharedFiles = (await readdir(web)).slice(0, Math.floor(perMachine / 4)).map(n => join(web, n))
await makeTree(db, perMachine - sharedFiles.length, sharedFiles)

await initRepository(join(root, 'src'), { name: 'src', apiPort: 0 })
await initRepository(join(root, 'dst'), { name: 'dst', apiPort: 0 })
const src = await OfflineCore.open(join(root, 'src'))
const dst = await OfflineCore.open(join(root, 'dst'))
await dst.peers.allow(src.peerId, { name: 'src' })
for (const [machine, dir] of [['web01', web], ['db01', db]]) {
  for (let step = 0; step < 4; step++) {
    if (step > 0) await change(dir, step)
    await src.run('backup', { machine, volumes: [{ name: 'data', path: dir }] })
  }
}
const stats = await src.store.stats()
log(`source repository: ${stats.blocks} blocks, ${(stats.rawBytes / MiB).toFixed(0)} MiB of blocks, ${(stats.packBytes / MiB).toFixed(0)} MiB of packs`)

// --- what the disk gives this process ---
const readPacks = await timed(async () => {
  let bytes = 0
  const dir = join(root, 'src', 'packs')
  for (const name of await readdir(dir)) {
    const handle = await open(join(dir, name), 'r')
    const buffer = Buffer.allocUnsafe(8 * MiB)
    let position = 0
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position)
      if (bytesRead === 0) break
      position += bytesRead
    }
    bytes += position
    await handle.close()
  }
  return bytes
})

const seedDir = join(root, 'seed')
const create = await timed(async () => await src.run('seedCreate', { out: seedDir, machines: ['web01', 'db01'], maxSize: `${values.part}M` }) as SeedCreateResult)
const seed = create.value
const fileBytesTotal = seed.parts.reduce((n, p) => n + p.size, 0)

const writeFiles = await timed(async () => {
  const dir = join(root, 'write-anchor')
  await mkdir(dir)
  const chunk = randomBytes(8 * MiB)
  for (const part of seed.parts) {
    const handle = await open(join(dir, `${part.part}.bin`), 'w')
    for (let written = 0; written < part.size; written += chunk.length) await handle.write(chunk, 0, Math.min(chunk.length, part.size - written))
    await handle.datasync()
    await handle.close()
  }
  await rm(dir, { recursive: true })
})

const consume = await timed(async () => await dst.run('seedConsume', { dir: seedDir }) as SeedConsumeResult)
const verify = await dst.run('verify', {}) as VerifyReport
await src.close()
await dst.close()

const mbps = (bytes: number, seconds: number): string => (bytes / 1e6 / seconds).toFixed(0)
const lines = [
  `seed: ${seed.points} points, ${seed.blocks} blocks, ${(seed.bytes / MiB).toFixed(0)} MiB of blocks (source holds ${(stats.rawBytes / MiB).toFixed(0)} MiB), ${seed.parts.length} parts of at most ${values.part} MiB`,
  `disk, read every pack:          ${readPacks.seconds.toFixed(2)} s  ${mbps(readPacks.value, readPacks.seconds)} MB/s (packs, compressed)`,
  `disk, write + sync part sizes:  ${writeFiles.seconds.toFixed(2)} s  ${mbps(fileBytesTotal, writeFiles.seconds)} MB/s`,
  `seed create:  ${create.seconds.toFixed(2)} s  ${mbps(seed.bytes, create.seconds)} MB/s of blocks  cpu ${create.cpu.toFixed(1)} s  peak RSS +${(create.rss / MiB).toFixed(0)} MiB`,
  `seed consume: ${consume.seconds.toFixed(2)} s  ${mbps(seed.bytes, consume.seconds)} MB/s of blocks  cpu ${consume.cpu.toFixed(1)} s  peak RSS +${(consume.rss / MiB).toFixed(0)} MiB`,
  `consume: ${consume.value.imported} blocks stored, ${consume.value.pointsCompleted.length} points complete, errors ${consume.value.errors.length}; target verify ${verify.ok ? 'ok' : 'FAILED'}`
]
process.stdout.write(lines.join('\n') + '\n')
if (values.keep !== true) await rm(root, { recursive: true, force: true })
else log(`kept ${root}`)
