import { writeFile, rm, rename } from 'node:fs/promises'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { closeServices, OnlineCore, openServices } from './core/index.ts'
import type { NetworkOptions } from './core/index.ts'
import { httpApp } from './http/server.ts'
import { loadOrCreateToken } from './http/token.ts'
import type { DaemonInfo } from './api/client.ts'
import { OperationalError } from './errors.ts'
import { listenFailure } from './common/listen-failure.ts'
import { ListenError } from './net/index.ts'
import type { Config } from './repo/index.ts'
import { parseReplicationTuning, REPLICATION_TUNING_ENV } from './replication/tuning.ts'
import { parseDelays, RETRY_DELAYS_ENV } from './scheduler/index.ts'
import { checkPruneSchedule, DEFAULT_PRUNE_SCHEDULE } from './prune/index.ts'

export interface Daemon {
  core: OnlineCore
  url: string
  token: string
  stop (): Promise<void>
}

/**
 * The daemon's network options: where to listen from the repository's config; from the
 * environment, `DRCORE_RETRY_DELAYS` (e.g. `5s,1m`: the waits before retrying a failed
 * replication job) and `DRCORE_REPLICATION_TUNING` (the engine's tunables,
 * src/replication/tuning.ts). The only place that reads them. The prune schedule comes from the
 * config's `prune.schedule` (daily at 03:30 when absent; null: never).
 */
export function daemonNetworkOptions (config: Config, env: NodeJS.ProcessEnv): NetworkOptions {
  const pruneSchedule = config.prune === undefined ? DEFAULT_PRUNE_SCHEDULE : config.prune.schedule
  if (pruneSchedule !== null) checkPruneSchedule(pruneSchedule)
  return {
    listen: config.listen,
    pruneSchedule,
    retryDelays: parseDelays(env[RETRY_DELAYS_ENV]),
    engine: parseReplicationTuning(env[REPLICATION_TUNING_ENV])
  }
}

/** Addresses `drcore start --listen/--api` gives for this run, instead of config.json's. */
export interface AddressOverrides {
  listen?: string[]
  api?: { host: string, port: number }
}

/**
 * `drcore start`: opens the repository (holding its lock for as long as it runs), starts the
 * network and scheduler, serves the HTTP API on 127.0.0.1 and writes `<repo>/daemon.json` so the
 * CLI sends every other command through the API.
 */
export async function startDaemon (dir: string, overrides: AddressOverrides = {}): Promise<Daemon> {
  const services = await openServices(dir)
  // for this run only: config.json keeps its addresses (drcore config set changes them)
  const config = services.files.config
  if (overrides.listen != null && overrides.listen.length > 0) config.listen = overrides.listen
  if (overrides.api != null) config.api = overrides.api
  const whatToDo = (option: string, key: string): string =>
    `give another address for this run with drcore start ${option}, or for good with drcore config set ${key}`
  let options: NetworkOptions
  try {
    options = daemonNetworkOptions(config, process.env)
  } catch (err) {
    await closeServices(services)
    throw err
  }
  let core: OnlineCore
  try {
    core = await OnlineCore.start(services, options)
  } catch (err: any) {
    await closeServices(services)
    if (err instanceof ListenError) throw new OperationalError(listenFailure('peers', err.address, err.code ?? err.detail, whatToDo('--listen ADDR', 'listen ADDR')))
    throw new OperationalError(`cannot start the network on ${config.listen.join(', ')}: ${err.message}`)
  }
  let token: string
  try {
    token = await loadOrCreateToken(dir)
  } catch (err) {
    await core.close()
    throw err
  }
  const http = httpApp(core, token)
  const app = http.app
  const { host, port } = core.files.config.api
  let server: ReturnType<typeof serve>
  try {
    server = await new Promise((resolve, reject) => {
      const s = serve({ fetch: app.fetch, hostname: host, port }, () => resolve(s))
      s.once('error', (err: NodeJS.ErrnoException) => reject(new OperationalError(listenFailure('the API', `${host.includes(':') ? `[${host}]` : host}:${port}`, err.code ?? err.message, whatToDo('--api HOST:PORT', 'api HOST:PORT')))))
    })
  } catch (err) {
    http.close()
    await core.close()
    throw err
  }
  const address = server.address() as AddressInfo
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`
  const info: DaemonInfo = { pid: process.pid, url, token, startedAt: new Date().toISOString() }
  const infoPath = join(dir, 'daemon.json')
  await writeFile(infoPath + '.tmp', JSON.stringify(info, null, 2) + '\n', { mode: 0o600 })
  await rename(infoPath + '.tmp', infoPath)
  core.events.emit('core.started', `Core ${core.files.config.name} started`, { url })
  let stopping: Promise<void> | undefined
  return {
    core,
    url,
    token,
    stop: async () => {
      stopping ??= (async () => {
        core.events.emit('core.stopped', `Core ${core.files.config.name} stopped`, {})
        await rm(infoPath, { force: true })
        http.close()
        await new Promise<void>(resolve => {
          server.close(() => resolve())
          // a browser keeps its connections open and would reconnect its event stream on them
          if ('closeAllConnections' in server) server.closeAllConnections()
        })
        await core.close()
      })()
      await stopping
    }
  }
}
