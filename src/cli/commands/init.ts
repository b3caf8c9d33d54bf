import type { Command } from 'commander'
import { resolveRepoDir } from '../../repo/dir.ts'
import { collect, withCommonOptions } from '../common.ts'
import type { CommonOptions } from '../common.ts'
import { printJson } from '../output.ts'
import { UsageError } from '../../errors.ts'

export function register (program: Command): void {
  withCommonOptions(program.command('init'))
    .description("create a repository and this Core's Ed25519 identity")
    .option('--name <name>', 'name of this Core, shown to peers (default: host name)')
    .option('--listen <multiaddr>', 'libp2p listen address (repeatable; default /ip4/0.0.0.0/tcp/4710)', collect)
    .option('--api-port <port>', 'port of the HTTP API and console on 127.0.0.1 (default 4711; 0 picks a free one)')
    .action(async (opts: CommonOptions & { name?: string, listen?: string[], apiPort?: string }) => {
      const dir = resolveRepoDir(opts.repo)
      let apiPort: number | undefined
      if (opts.apiPort != null) {
        apiPort = Number(opts.apiPort)
        if (!Number.isInteger(apiPort) || apiPort < 0 || apiPort > 65535) throw new UsageError(`--api-port: not a port number: ${opts.apiPort}`)
      }
      const { initRepository } = await import('../../repo/index.ts')
      const { peerId, config } = await initRepository(dir, { name: opts.name, listen: opts.listen, apiPort })
      if (opts.json === true) printJson({ peerId: peerId.toString(), name: config.name, repo: dir })
      else process.stdout.write(`created repository ${dir}\npeer id ${peerId.toString()} (name ${config.name})\n`)
    })
}
