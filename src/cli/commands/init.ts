import type { Command } from 'commander'
import { resolveRepoDir } from '../../repo/dir.ts'
import { collect, withCommonOptions } from '../common.ts'
import type { CommonOptions } from '../common.ts'
import { printJson } from '../output.ts'
import { UsageError } from '../../errors.ts'
import type { S3StorageConfig } from '../../store/index.ts'

export function register (program: Command): void {
  withCommonOptions(program.command('init'))
    .description("create a repository and this Core's Ed25519 identity")
    .option('--name <name>', 'name of this Core, shown to peers (default: host name)')
    .option('--listen <multiaddr>', 'libp2p listen address (repeatable; default /ip4/0.0.0.0/tcp/4710)', collect)
    .option('--api-port <port>', 'port of the HTTP API and console on 127.0.0.1 (default 4711; 0 picks a free one)')
    .option('--storage <url>', 'keep the pack files in an S3 bucket: s3://BUCKET/PREFIX (credentials: the AWS SDK default chain)')
    .option('--s3-endpoint <url>', 'S3 endpoint for a store other than AWS (MinIO, Ceph RGW, Swift)')
    .option('--s3-region <region>', 'S3 region (default: AWS_REGION, else us-east-1)')
    .option('--s3-path-style', 'address the bucket in the path (http://host/bucket/key)')
    .action(async (opts: CommonOptions & { name?: string, listen?: string[], apiPort?: string, storage?: string, s3Endpoint?: string, s3Region?: string, s3PathStyle?: boolean }) => {
      const dir = resolveRepoDir(opts.repo)
      let apiPort: number | undefined
      if (opts.apiPort != null) {
        apiPort = Number(opts.apiPort)
        if (!Number.isInteger(apiPort) || apiPort < 0 || apiPort > 65535) throw new UsageError(`--api-port: not a port number: ${opts.apiPort}`)
      }
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
      const { peerId, config } = await initRepository(dir, { name: opts.name, listen: opts.listen, apiPort, storage })
      if (opts.json === true) printJson({ peerId: peerId.toString(), name: config.name, repo: dir })
      else process.stdout.write(`created repository ${dir}${storage !== undefined ? ` (packs in ${opts.storage})` : ''}\npeer id ${peerId.toString()} (name ${config.name})\n`)
    })
}
