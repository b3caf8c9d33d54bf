import type { Command } from 'commander'
import { readConfig, writeConfig } from '../../repo/config.ts'
import type { Config } from '../../repo/config.ts'
import { parseApiAddress, parseListenAddress } from '../../repo/addresses.ts'
import { resolveRepoDir } from '../../repo/dir.ts'
import { RepositoryNotFoundError, UsageError } from '../../errors.ts'
import { withCommonOptions } from '../common.ts'
import type { CommonOptions } from '../common.ts'
import { printJson } from '../output.ts'
import { readDaemonInfo } from '../connect.ts'
import { checkPruneSchedule, DEFAULT_PRUNE_SCHEDULE } from '../../prune/index.ts'

// `config` takes --repo and --json itself, so commander gives them to it wherever they stand: its
// subcommands read them with optsWithGlobals()

/** The settings `drcore config` reads and changes: how each is shown, and how a new value is checked. */
const SETTINGS = {
  name: {
    about: 'the name of this Core, shown to peers',
    show: (c: Config): string[] => [c.name],
    set: (c: Config, values: string[]): void => { c.name = coreName(one('name', values)) }
  },
  listen: {
    about: 'where peers reach this Core: TCP multiaddrs or HOST:PORT (one or more)',
    show: (c: Config): string[] => c.listen,
    set: (c: Config, values: string[]): void => { c.listen = values.map(v => parseListenAddress(v, 'listen')) }
  },
  api: {
    about: 'the HTTP API and console: HOST:PORT',
    show: (c: Config): string[] => [hostPort(c.api)],
    set: (c: Config, values: string[]): void => { c.api = parseApiAddress(one('api', values), 'api') }
  },
  prune: {
    about: `when the running Core prunes by itself: a cron expression in local time (default "${DEFAULT_PRUNE_SCHEDULE}"), or never`,
    show: (c: Config): string[] => [c.prune === undefined ? DEFAULT_PRUNE_SCHEDULE : c.prune.schedule ?? 'never'],
    set: (c: Config, values: string[]): void => {
      const schedule = values.join(' ')
      try {
        if (schedule !== 'never') checkPruneSchedule(schedule)
      } catch (err) {
        throw new UsageError((err as Error).message)
      }
      c.prune = { schedule: schedule === 'never' ? null : schedule }
    }
  }
} satisfies Record<string, { about: string, show: (c: Config) => string[], set: (c: Config, values: string[]) => void }>

type Key = keyof typeof SETTINGS

export function register (program: Command): void {
  const config = withCommonOptions(program.command('config'))
    .description(`read and change this Core's settings (config.json): ${Object.keys(SETTINGS).join(', ')}; alone, print them all`)
    .action(async (opts: CommonOptions) => {
      const c = await load(opts.repo)
      if (opts.json === true) return printJson(c)
      for (const key of Object.keys(SETTINGS) as Key[]) process.stdout.write(`${key.padEnd(7)}${SETTINGS[key].show(c).join(' ')}\n`)
    })

  withCommonOptions(config.command('get'))
    .description('print one setting (listen: one address a line)')
    .argument('<key>', Object.keys(SETTINGS).join(', '))
    .action(async (key: string, _: CommonOptions, cmd: Command) => {
      const opts: CommonOptions = cmd.optsWithGlobals()
      const c = await load(opts.repo)
      const k = settingKey(key)
      if (opts.json === true) return printJson(c[k])
      process.stdout.write(SETTINGS[k].show(c).map(v => v + '\n').join(''))
    })

  withCommonOptions(config.command('set'))
    .description('change a setting, checked first; the running Core uses it from its next start')
    .argument('<key>', Object.entries(SETTINGS).map(([k, s]) => `${k}: ${s.about}`).join('; '))
    .argument('<value...>')
    .action(async (key: string, values: string[], _: CommonOptions, cmd: Command) => {
      const opts: CommonOptions = cmd.optsWithGlobals()
      const dir = resolveRepoDir(opts.repo)
      const c = await load(opts.repo)
      const k = settingKey(key)
      SETTINGS[k].set(c, values)
      await writeConfig(dir, c)
      const running = await readDaemonInfo(dir)
      if (opts.json === true) printJson(c)
      else process.stdout.write(`${k} ${SETTINGS[k].show(c).join(' ')}\n`)
      if (running != null) process.stderr.write(`the running Core (pid ${running.pid}) uses the new ${k} from its next start (drcore start)\n`)
    })
}

async function load (repo: string | undefined): Promise<Config> {
  const dir = resolveRepoDir(repo)
  try {
    return await readConfig(dir)
  } catch (err: any) {
    if (err.code === 'ENOENT') throw new RepositoryNotFoundError(`no drcore repository at ${dir} (create one with: drcore init --repo ${dir})`)
    throw err
  }
}

function settingKey (key: string): Key {
  if (!Object.hasOwn(SETTINGS, key)) throw new UsageError(`no setting "${key}": the settings are ${Object.keys(SETTINGS).join(', ')}`)
  return key as Key
}

function one (key: string, values: string[]): string {
  if (values.length !== 1) throw new UsageError(`${key} takes one value, not ${values.length}`)
  return values[0]
}

function coreName (name: string): string {
  // eslint-disable-next-line no-control-regex
  if (name.trim() === '' || /[\u0000-\u001f\u007f]/.test(name)) throw new UsageError(`name ${JSON.stringify(name)}: a Core's name is a line of text, not empty`)
  return name
}

function hostPort (api: { host: string, port: number }): string {
  return `${api.host.includes(':') ? `[${api.host}]` : api.host}:${api.port}`
}
