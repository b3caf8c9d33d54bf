/**
 * Block store ingest throughput: 64 KiB blocks (the chunker's average) through `writer.put()`,
 * one awaited put after another as a backup makes them, to a committed, fsynced, indexed store.
 * Hashing is excluded: every block and CID is made before the clock starts (1 GiB of blocks is
 * held in memory). Also reports CPU seconds (all threads), which a busy machine distorts less
 * than wall time, then random reads and verifyAll of the same data.
 *
 *   npx node scripts/measure-store.ts [--gib 1] [--dir /tmp] [--compressible]
 */
import { createHash, randomFillSync } from 'node:crypto'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Level } from 'level'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { openBlockStore } from '../src/store/index.ts'

const { values } = parseArgs({ options: { gib: { type: 'string', default: '1' }, dir: { type: 'string', default: tmpdir() }, compressible: { type: 'boolean', default: false } } })
const BLOCK = 64 * 1024
const total = Math.round(Number(values.gib) * 2 ** 30 / BLOCK)
const cpuSeconds = (): number => { const { user, system } = process.cpuUsage(); return (user + system) / 1e6 }

// text-like: a 300-word vocabulary in random order, about 3:1 under zstd
const words = Array.from({ length: 300 }, (_, i) => `w${(i * 7919).toString(36)}`)
const text = new TextEncoder().encode(Array.from({ length: BLOCK }, () => words[Math.floor(Math.random() * words.length)]).join(' '))

function makeBlock (i: number): Uint8Array {
  if (!values.compressible) return randomFillSync(new Uint8Array(BLOCK))
  const offset = (i * 4099) % (text.length - BLOCK)
  const bytes = text.slice(offset, offset + BLOCK)
  new DataView(bytes.buffer).setFloat64(0, i)
  return bytes
}

console.error(`making and hashing ${total} blocks of 64 KiB (not timed) ...`)
const blocks = Array.from({ length: total }, (_, i) => makeBlock(i))
const cids = blocks.map((bytes) => CID.createV1(raw.code, createDigest(0x12, createHash('sha256').update(bytes).digest())))

const root = await mkdtemp(join(values.dir!, 'drcore-measure-store-'))

/** What the disk gives: the same bytes written with writev + fdatasync per 32 MiB, nothing else. */
async function measureBaseline (): Promise<void> {
  const path = join(root, 'baseline.bin')
  const handle = await open(path, 'w')
  const started = performance.now()
  const cpuStarted = cpuSeconds()
  let position = 0
  for (let i = 0; i < total; i += 512) {
    position += (await handle.writev(blocks.slice(i, i + 512), position)).bytesWritten
    await handle.datasync()
  }
  const seconds = (performance.now() - started) / 1000
  await handle.close()
  await rm(path)
  console.log(`baseline: writev + fdatasync of the same bytes per 32 MiB: ${(position / 1e6 / seconds).toFixed(0)} MB/s; ${(cpuSeconds() - cpuStarted).toFixed(2)} CPU s`)
}

await measureBaseline()
const db = new Level<string, any>(join(root, 'index'))
await db.open()
try {
  const store = await openBlockStore({ dir: join(root, 'packs'), db })
  const started = performance.now()
  const cpuStarted = cpuSeconds()
  const writer = store.writer()
  for (let i = 0; i < total; i++) await writer.put(cids[i], blocks[i])
  const stats = await writer.commit()
  const seconds = (performance.now() - started) / 1000
  const cpu = cpuSeconds() - cpuStarted
  const mb = total * BLOCK / 1e6
  console.log(`${values.compressible ? 'compressible' : 'incompressible'} 64 KiB blocks: ${total} blocks, ${(mb / 1000).toFixed(2)} GB in ${seconds.toFixed(2)} s = ${(mb / seconds).toFixed(0)} MB/s into the store; ${cpu.toFixed(2)} CPU s = ${(mb / cpu).toFixed(0)} MB per CPU second; ${(stats.storedBytes / 1e6).toFixed(0)} MB in packs`)

  for (const parallel of [1, 8]) {
    const readStart = performance.now()
    const picks = Array.from({ length: Math.ceil(total / 16) }, (_, i) => cids[(i * 16 * 7919) % total])
    for (let i = 0; i < picks.length; i += parallel) await Promise.all(picks.slice(i, i + parallel).map(async (cid) => await store.get(cid)))
    const readSeconds = (performance.now() - readStart) / 1000
    console.log(`get() of ${picks.length} blocks in random order, ${parallel} at a time (read, rehash): ${(picks.length * BLOCK / 1e6 / readSeconds).toFixed(0)} MB/s`)
  }

  const verifyStart = performance.now()
  let verified = 0
  for await (const result of store.verifyAll()) if (result.ok) verified++
  const verifySeconds = (performance.now() - verifyStart) / 1000
  console.log(`verifyAll: ${verified} blocks, ${(mb / verifySeconds).toFixed(0)} MB/s`)
  await store.close()
  await measureBaseline()
} finally {
  await db.close()
  await rm(root, { recursive: true, force: true })
}
