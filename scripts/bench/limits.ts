/**
 * Section `limits`: the physical limits of the data path on this machine, measured in the same
 * run as the other sections (scripts/measure-limits.ts): sha-256 on one core, zstd
 * decompression of real files in 64 KiB blocks, and the libp2p transport (TCP + Noise + Yamux)
 * between two processes on 127.0.0.1 in 64 KiB and in 5 KiB frames. No anchor and no target:
 * docs/benchmarks.md sets the replication figures beside them.
 */
import path from 'node:path'
import { NODE_BIN, REPO_ROOT, run } from './lib.ts'
import type { BenchContext, BenchSection, Row, SectionResult } from './lib.ts'

interface Limits {
  sha256: number
  zstdDecompress: number
  transport64k: number
  transport5k: number
}

async function run_ (ctx: BenchContext): Promise<SectionResult> {
  const mib = ctx.mode === 'quick' ? 64 : 256
  ctx.log(`measuring sha-256, zstd decompression of /usr/share and the libp2p transport on 127.0.0.1 (${mib} MiB each)`)
  const result = await run(NODE_BIN, [path.join(REPO_ROOT, 'scripts', 'measure-limits.ts'), '--mib', String(mib), '--corpus', '/usr/share'])
  if (result.code !== 0) throw new Error(`measure-limits exited ${result.code}: ${result.stderr.trim().slice(-500)}`)
  const limits = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Limits
  const row = (metric: string, value: number): Row => ({ metric, unit: 'bytes/s', drcore: value, anchor: null })
  const rows = [
    row('sha-256, one core, 64 KiB blocks', limits.sha256),
    row('zstd decompression, real files in 64 KiB blocks (output bytes)', limits.zstdDecompress),
    row('libp2p TCP + Noise + Yamux on 127.0.0.1, one stream, 64 KiB frames', limits.transport64k),
    row('same, 5 KiB frames (the size of the tree\'s blocks as stored)', limits.transport5k)
  ]
  return { rows, details: { limits }, notes: ['limits: no store on either side of the transport; each figure is what one core does, so a step that runs on both Cores (a proof) costs twice on a machine that hosts both'] }
}

export const section: BenchSection = {
  name: 'limits',
  title: 'Physical limits of the data path on this machine',
  tools: [],
  run: run_
}
