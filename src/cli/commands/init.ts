import type { Command } from 'commander'
import { resolveRepoDir } from '../../repo/dir.ts'
import { collect, withCommonOptions } from '../common.ts'
import type { CommonOptions } from '../common.ts'
import { printJson } from '../output.ts'
import { UsageError } from '../../errors.ts'
import { CHUNK_AVERAGES, DEFAULT_CHUNKING, chunkingForAverage } from '../../chunker/index.ts'

export function register (program: Command): void {
  withCommonOptions(program.command('init'))
    .description("create a repository and this Core's Ed25519 identity")
    .option('--name <name>', 'name of this Core, shown to peers (default: host name)')
    .option('--listen <multiaddr>', 'libp2p listen address (repeatable; default /ip4/0.0.0.0/tcp/4710)', collect)
    .option('--api-port <port>', 'port of the HTTP API and console on 127.0.0.1 (default 4711; 0 picks a free one)')
    .option('--chunk-size <size>', `average chunk size of every backup into this repository, fixed for good: ${CHUNK_AVERAGES.map(showSize).join(', ')} (default ${showSize(DEFAULT_CHUNKING.avgSize)})`)
    .action(async (opts: CommonOptions & { name?: string, listen?: string[], apiPort?: string, chunkSize?: string }) => {
      const dir = resolveRepoDir(opts.repo)
      let apiPort: number | undefined
      if (opts.apiPort != null) {
        apiPort = Number(opts.apiPort)
        if (!Number.isInteger(apiPort) || apiPort < 0 || apiPort > 65535) throw new UsageError(`--api-port: not a port number: ${opts.apiPort}`)
      }
      const chunking = opts.chunkSize === undefined ? undefined : chunkingForAverage(parseChunkSize(opts.chunkSize))
      const { initRepository } = await import('../../repo/index.ts')
      const { peerId, config } = await initRepository(dir, { name: opts.name, listen: opts.listen, apiPort, chunking })
      if (opts.json === true) printJson({ peerId: peerId.toString(), name: config.name, repo: dir, chunking: config.chunking })
      else process.stdout.write(`created repository ${dir}\npeer id ${peerId.toString()} (name ${config.name})\n`)
    })
}

function showSize (bytes: number): string {
  return `${bytes / 1024}K`
}

/** `16K`, `32K` or `64K` (also `16k`, `16KiB`, or the bytes) to one of `CHUNK_AVERAGES`. */
function parseChunkSize (value: string): number {
  const m = /^(\d+)\s*(k|kib)?$/i.exec(value.trim())
  const bytes = m === null ? NaN : Number(m[1]) * (m[2] === undefined ? 1 : 1024)
  if (!(CHUNK_AVERAGES as readonly number[]).includes(bytes)) {
    throw new UsageError(`--chunk-size: ${JSON.stringify(value)} is not a chunk size drcore offers; use ${CHUNK_AVERAGES.map(showSize).join(', ')}`)
  }
  return bytes
}
