import type { Command } from 'commander'
import { resolveRepoDir } from '../../repo/dir.ts'
import { collect, withCommonOptions } from '../common.ts'
import type { CommonOptions } from '../common.ts'
import { printJson } from '../output.ts'
import { UsageError } from '../../errors.ts'
import { CHUNK_AVERAGES, DEFAULT_CHUNKING, chunkingForAverage } from '../../chunker/index.ts'
import { parseApiAddress, parseListenAddress } from '../../repo/addresses.ts'
import type { S3StorageConfig } from '../../store/index.ts'

export function register (program: Command): void {
  withCommonOptions(program.command('init'))
    .description("create a repository and this Core's Ed25519 identity")
    .option('--name <name>', 'name of this Core, shown to peers (default: host name)')
    .option('--listen <address>', 'where peers reach this Core (repeatable): a TCP multiaddr or HOST:PORT (default /ip4/0.0.0.0/tcp/4710)', collect)
    .option('--api <host:port>', 'the HTTP API and console (default 127.0.0.1:4711; port 0 picks a free one)')
    .option('--api-port <port>', 'the same as --api 127.0.0.1:PORT')
    .option('--chunk-size <size>', `average chunk size of every backup into this repository, fixed for good: ${CHUNK_AVERAGES.map(showSize).join(', ')} (default ${showSize(DEFAULT_CHUNKING.avgSize)})`)
    .option('--storage <url>', 'keep the pack files in an S3 bucket: s3://BUCKET/PREFIX (credentials: the AWS SDK default chain)')
    .option('--s3-endpoint <url>', 'S3 endpoint for a store other than AWS (MinIO, Ceph RGW, Swift)')
    .option('--s3-region <region>', 'S3 region (default: AWS_REGION, else us-east-1)')
    .option('--s3-path-style', 'address the bucket in the path (http://host/bucket/key)')
    .action(async (opts: CommonOptions & { name?: string, listen?: string[], api?: string, apiPort?: string, chunkSize?: string, storage?: string, s3Endpoint?: string, s3Region?: string, s3PathStyle?: boolean }) => {
      const dir = resolveRepoDir(opts.repo)
      if (opts.api != null && opts.apiPort != null) throw new UsageError('give --api or --api-port, not both')
      const listen = opts.listen?.map(a => parseListenAddress(a))
      const api = opts.api != null ? parseApiAddress(opts.api) : opts.apiPort != null ? parseApiAddress(apiPort(opts.apiPort), '--api-port') : undefined
      const chunking = opts.chunkSize === undefined ? undefined : chunkingForAverage(parseChunkSize(opts.chunkSize))
      let storage: S3StorageConfig | undefined
      if (opts.storage !== undefined) {
        const { parseS3Url } = await import('../../store/index.ts')
        storage = { type: 's3', ...parseS3Url(opts.storage) }
        if (opts.s3Endpoint !== undefined) {
          if (!/^https?:\/\/[^/]+/.test(opts.s3Endpoint)) throw new UsageError(`--s3-endpoint ${opts.s3Endpoint}: expected http(s)://HOST[:PORT]`)
          storage.endpoint = opts.s3Endpoint
        }
        if (opts.s3Region !== undefined) storage.region = opts.s3Region
        if (opts.s3PathStyle === true) storage.pathStyle = true
        const { checkNewPrefix } = await import('../../core/index.ts')
        await checkNewPrefix(storage)
      } else if (opts.s3Endpoint !== undefined || opts.s3Region !== undefined || opts.s3PathStyle === true) {
        throw new UsageError('--s3-endpoint, --s3-region and --s3-path-style go with --storage s3://BUCKET/PREFIX')
      }
      const { initRepository } = await import('../../repo/index.ts')
      const { peerId, config } = await initRepository(dir, { name: opts.name, listen, apiPort: api?.port, apiHost: api?.host, chunking, storage })
      if (opts.json === true) printJson({ peerId: peerId.toString(), name: config.name, repo: dir, chunking: config.chunking })
      else process.stdout.write(`created repository ${dir}${storage !== undefined ? ` (packs in ${opts.storage})` : ''}\npeer id ${peerId.toString()} (name ${config.name})\n`)
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

function apiPort (value: string): string {
  if (!/^\d+$/.test(value)) throw new UsageError(`--api-port ${value}: not a port number (0-65535)`)
  return value
}
