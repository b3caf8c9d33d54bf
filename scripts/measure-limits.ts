/**
 * The physical limits a Core's data path runs against on this machine, measured now: sha-256 of
 * one core (every block is hashed on backup, on send and on receipt), zstd decompression of real
 * files in 64 KiB blocks compressed as the store does (every stored block is decompressed to be
 * proved), and the libp2p transport drcore uses (TCP + Noise + Yamux) on 127.0.0.1 between two
 * processes: block frames over one stream to a handler that only reads them, no store on either
 * side. Prints one JSON object on stdout (`npm run bench -- --only limits` reports it).
 *
 *   npx node scripts/measure-limits.ts [--corpus DIR] [--mib 256]
 */
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createHash, randomFillSync } from 'node:crypto'
import { mkdtemp, open, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { constants, zstdCompressSync, zstdDecompressSync } from 'node:zlib'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { initRepository } from '../src/repo/index.ts'
import { ZSTD_LEVEL } from '../src/store/constants.ts'
import { TestCore } from '../test/support/core.ts'
import { serveFrameSink } from './frame-sink.ts'

const { values } = parseArgs({
  options: {
    corpus: { type: 'string', default: '/usr/share' },
    mib: { type: 'string', default: '256' },
    target: { type: 'string' }
  }
})
const MiB = 1024 * 1024
const BLOCK = 64 * 1024
const PROTOCOL = '/drcore/measure-limits/1'
const log = (msg: string): void => { process.stderr.write(msg + '\n') }

if (values.target !== undefined) {
  // the receiving process: reads every frame and drops it
  const [repo, source] = values.target.split(',')
  await serveFrameSink(repo, source, PROTOCOL)
} else {
  const bytes = Number(values.mib) * MiB
  const result = {
    sha256: sha256Rate(bytes),
    zstdDecompress: await zstdDecompressRate(values.corpus!, Math.min(bytes, 128 * MiB)),
    transport64k: 0,
    transport5k: 0
  }
  const transport = await transportRates(bytes)
  result.transport64k = transport.large
  result.transport5k = transport.small
  process.stdout.write(JSON.stringify(result) + '\n')
}

/** Bytes per second sha-256 hashes in 64 KiB blocks on one core. */
function sha256Rate (total: number): number {
  const block = randomFillSync(new Uint8Array(BLOCK))
  const started = performance.now()
  for (let done = 0; done < total; done += BLOCK) createHash('sha256').update(block).digest()
  return total / ((performance.now() - started) / 1000)
}

/**
 * Bytes per second of decompressed output: real files of `corpus` cut into 64 KiB blocks, each
 * compressed at the store's level as its own frame, then each decompressed with the size known.
 */
async function zstdDecompressRate (corpus: string, total: number): Promise<number> {
  const frames: Array<{ frame: Uint8Array, length: number }> = []
  let collected = 0
  for await (const file of walk(corpus)) {
    if (collected >= total) break
    const handle = await open(file, 'r').catch(() => undefined)
    if (handle === undefined) continue
    try {
      const data = await handle.readFile()
      for (let at = 0; at < data.length && collected < total; at += BLOCK) {
        const block = data.subarray(at, Math.min(at + BLOCK, data.length))
        frames.push({ frame: zstdCompressSync(block, { params: { [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL } }), length: block.length })
        collected += block.length
      }
    } finally {
      await handle.close()
    }
  }
  const started = performance.now()
  for (const { frame, length } of frames) zstdDecompressSync(frame, { maxOutputLength: Math.max(length, 1), chunkSize: Math.max(length, 64) })
  return collected / ((performance.now() - started) / 1000)
}

async function * walk (dir: string): AsyncGenerator<string> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => [])
  for (const entry of entries.sort((a, b) => a.name < b.name ? -1 : 1)) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) yield * walk(path)
    else if (entry.isFile()) yield path
  }
}

/** Bytes per second of block frames (64 KiB and 5 KiB bodies) from this process to a child over libp2p on 127.0.0.1. */
async function transportRates (total: number): Promise<{ large: number, small: number }> {
  const root = await mkdtemp(join(tmpdir(), 'drcore-measure-limits-'))
  let child: ChildProcess | undefined
  try {
    await initRepository(join(root, 'source'), { name: 'source', listen: ['/ip4/127.0.0.1/tcp/0'] })
    await initRepository(join(root, 'target'), { name: 'target', listen: ['/ip4/127.0.0.1/tcp/0'] })
    const source = await TestCore.open(join(root, 'source'), 'source')
    try {
      child = fork(new URL(import.meta.url).pathname, ['--target', `${join(root, 'target')},${source.peerId}`], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
      const { address } = await new Promise<{ address: string }>(resolve => child!.once('message', m => resolve(m as { address: string })))
      await source.pairing.request(address, { name: 'target' })
      const to = address.slice(address.lastIndexOf('/') + 1)
      const rate = async (size: number): Promise<number> => {
        const blocks = Array.from({ length: 64 }, () => {
          const bytes = randomFillSync(new Uint8Array(size))
          return { cid: CID.createV1(0x55, Digest.create(0x12, createHash('sha256').update(bytes).digest())), bytes }
        })
        const count = Math.ceil(total / size)
        const wire = await source.node.open(to, PROTOCOL, { addresses: [address] })
        const started = performance.now()
        for (let i = 0; i < count; i++) await wire.sendBlock(blocks[i % blocks.length].cid, blocks[i % blocks.length].bytes)
        await wire.close()
        await wire.expect('done')
        return count * size / ((performance.now() - started) / 1000)
      }
      const large = await rate(BLOCK)
      const small = await rate(5 * 1024)
      log(`transport: ${(large / 1e6).toFixed(0)} MB/s in 64 KiB frames, ${(small / 1e6).toFixed(0)} MB/s in 5 KiB frames`)
      return { large, small }
    } finally {
      await source.stop()
    }
  } finally {
    if (child !== undefined) {
      child.send('stop')
      await new Promise(resolve => child!.once('exit', resolve))
    }
    await rm(root, { recursive: true, force: true })
  }
}
