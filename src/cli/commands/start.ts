import type { Command } from 'commander'
import { resolveRepoDir } from '../../repo/dir.ts'
import { collect, withCommonOptions } from '../common.ts'
import type { CommonOptions } from '../common.ts'
import { parseApiAddress, parseListenAddress } from '../../repo/addresses.ts'

export function register (program: Command): void {
  withCommonOptions(program.command('start'), false)
    .description('run the Core in the foreground: network, scheduler, HTTP API and console (Ctrl-C stops it)')
    .option('--listen <address>', 'listen for peers here instead of config.json\'s "listen", for this run (repeatable): a TCP multiaddr or HOST:PORT', collect)
    .option('--api <host:port>', 'serve the API and console here instead of config.json\'s "api", for this run')
    .action(async (opts: CommonOptions & { listen?: string[], api?: string }) => {
      const dir = resolveRepoDir(opts.repo)
      const listen = opts.listen?.map(a => parseListenAddress(a))
      const api = opts.api != null ? parseApiAddress(opts.api) : undefined
      // loaded here, not at the top: every other command would pay for libp2p and the whole Core
      const { startDaemon } = await import('../../daemon.ts')
      const daemon = await startDaemon(dir, { listen, api })
      const id = await daemon.core.run('id', {}) as { peerId: string, name: string, addresses: string[] }
      process.stdout.write(`drcore ${id.name} (${id.peerId}) running on ${dir}\n`)
      for (const a of id.addresses) process.stdout.write(`listening ${a}\n`)
      process.stdout.write(`API ${daemon.url}/api/v1\n`)
      process.stdout.write(`console ${daemon.url}/login?token=${daemon.token}\n`)
      const host = daemon.core.files.config.api.host
      if (host !== '127.0.0.1' && host !== '::1' && host !== 'localhost') {
        process.stderr.write(`warning: the API and console listen on ${host} (config.json "api"), not only on this machine; every request still needs the token\n`)
      }
      await new Promise<void>(resolve => {
        const stop = (signal: string): void => {
          process.stdout.write(`${signal}: stopping\n`)
          daemon.stop().then(resolve, err => { process.stderr.write(`error while stopping: ${err.message}\n`); resolve() })
        }
        process.once('SIGINT', () => stop('SIGINT'))
        process.once('SIGTERM', () => stop('SIGTERM'))
      })
    })
}
