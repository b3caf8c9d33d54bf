/**
 * Replication throughput over loopback: a point of one incompressible file of `--mib` MiB, then
 * a point of `--files` small files (1 to 4 KiB each), each sent from a source Core to a target
 * Core that runs in a child process (so the two do not share one JavaScript thread). Reports
 * MB/s of block bytes and blocks/s, with the CPU seconds of the source, next to what the bare
 * transport gives on the same machine at the same moment: the same number of block frames of
 * the same sizes over one stream to a handler that only reads them (no store on either side).
 *
 *   npx node scripts/measure-replication.ts [--mib 200] [--files 20000] [--dir /tmp] [--keep]
 */
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createHash, randomFillSync } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { DrcoreNode } from '../src/net/index.ts'
import { initRepository } from '../src/repo/index.ts'
import { TestCore, rule } from '../test/support/core.ts'
import { serveFrameSink } from './frame-sink.ts'

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '200' },
    files: { type: 'string', default: '20000' },
    dir: { type: 'string', default: tmpdir() },
    keep: { type: 'boolean', default: false },
    target: { type: 'string' }
  }
})
const MiB = 1024 * 1024
const BASELINE_PROTOCOL = '/drcore/measure-baseline/1'
const log = (msg: string): void => { process.stderr.write(msg + '\n') }
const cpuSeconds = (): number => { const { user, system } = process.cpuUsage(); return (user + system) / 1e6 }

/** The Core on `repo`, running the network as the daemon does (test/support/core.ts). */
async function startCore (repo: string, name: string): Promise<TestCore> {
  return await TestCore.open(repo, name)
}

if (values.target !== undefined) {
  // the target, in the child: allow the source named on the command line, report the address
  const [repo, source] = values.target.split(',')
  await serveFrameSink(repo, source, BASELINE_PROTOCOL)
} else {
  await main()
}

async function main (): Promise<void> {
  const root = await mkdtemp(join(values.dir!, 'drcore-measure-replication-'))
  let child: ChildProcess | undefined
  try {
    await initRepository(join(root, 'source'), { name: 'source', listen: ['/ip4/127.0.0.1/tcp/0'] })
    await initRepository(join(root, 'target'), { name: 'target', listen: ['/ip4/127.0.0.1/tcp/0'] })
    const source = await startCore(join(root, 'source'), 'source')
    child = fork(new URL(import.meta.url).pathname, ['--target', `${join(root, 'target')},${source.peerId}`], { stdio: 'inherit', execArgv: [...process.execArgv, ...(process.env.PROF_DIR != null ? ['--cpu-prof', '--cpu-prof-dir', process.env.PROF_DIR] : [])] })
    const { address } = await new Promise<{ address: string }>(resolve => child!.once('message', m => resolve(m as { address: string })))
    await source.pairing.request(address, { name: 'target' })
    const to = address.slice(address.lastIndexOf('/') + 1)

    log(`writing a ${values.mib} MiB incompressible file and ${values.files} small files (not timed) ...`)
    await mkdir(join(root, 'big'))
    const file = await open(join(root, 'big', 'image.bin'), 'w')
    const chunk = Buffer.alloc(4 * MiB)
    for (let i = 0; i < Number(values.mib) / 4; i++) await file.write(randomFillSync(chunk))
    await file.close()
    await mkdir(join(root, 'small'))
    for (let i = 0; i < Number(values.files); i++) {
      if (i % 1000 === 0) await mkdir(join(root, 'small', `d${i / 1000}`))
      await writeFile(join(root, 'small', `d${Math.floor(i / 1000)}`, `f${i}`), randomFillSync(Buffer.alloc(1024 + (i * 7919) % 3072)))
    }
    await source.run('backup', { machine: 'big', volumes: [{ name: 'data', path: join(root, 'big') }] })
    await source.run('backup', { machine: 'small', volumes: [{ name: 'data', path: join(root, 'small') }] })

    for (const machine of ['big', 'small']) {
      const cpu = cpuSeconds()
      const result = await source.engine.replicate(rule(machine, to))
      const cpuUsed = cpuSeconds() - cpu
      log(`${machine}: ${result.blocksSent} blocks, ${(result.bytesSent / MiB).toFixed(1)} MiB in ${result.seconds.toFixed(2)} s: ` +
        `${(result.bytesSent / 1e6 / result.seconds).toFixed(1)} MB/s, ${Math.round(result.blocksSent / result.seconds)} blocks/s; source CPU ${cpuUsed.toFixed(2)} s`)
      const baseline = await measureBaseline(source.node, to, address, result.blocksSent, Math.round(result.bytesSent / result.blocksSent))
      log(`  bare transport, same frames: ${(baseline.bytes / 1e6 / baseline.seconds).toFixed(1)} MB/s, ${Math.round(baseline.frames / baseline.seconds)} frames/s`)
    }
    await source.stop()
  } finally {
    if (child !== undefined) {
      child.send('stop')
      await new Promise(resolve => child!.once('exit', resolve))
    }
    if (values.keep !== true) await rm(root, { recursive: true, force: true })
    else log(`kept ${root}`)
  }
}

/** `count` block frames of `size` bytes (a few distinct blocks, sent again and again), read and dropped. */
async function measureBaseline (node: DrcoreNode, to: string, address: string, count: number, size: number): Promise<{ frames: number, bytes: number, seconds: number }> {
  const blocks = Array.from({ length: 64 }, () => {
    const bytes = randomFillSync(new Uint8Array(size))
    return { cid: CID.createV1(0x55, Digest.create(0x12, createHash('sha256').update(bytes).digest())), bytes }
  })
  const wire = await node.open(to, BASELINE_PROTOCOL, { addresses: [address] })
  const started = performance.now()
  for (let i = 0; i < count; i++) await wire.sendBlock(blocks[i % blocks.length].cid, blocks[i % blocks.length].bytes)
  await wire.close()
  await wire.expect('done')
  return { frames: count, bytes: count * size, seconds: (performance.now() - started) / 1000 }
}
