import { readFile, writeFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { MalformedError } from '../errors.ts'
import type { S3StorageConfig } from '../store/s3/options.ts'

/** `<repo>/config.json`: what an operator may edit by hand (with the daemon stopped). */
export interface Config {
  version: 1
  /** human name of this Core, shown to peers */
  name: string
  /** libp2p listen multiaddrs */
  listen: string[]
  /** the HTTP API and console; `host` other than 127.0.0.1 only by explicit choice */
  api: { host: string, port: number }
  /**
   * When the daemon prunes by itself: `schedule` is a cron expression in local time, or null
   * for never (docs/retention.md). Absent: the default, daily at 03:30.
   */
  prune?: { schedule: string | null }
  /**
   * Where the pack files live when not in `packs/` (docs/storage.md): an S3 bucket and prefix.
   * Never credentials: the SDK's default chain finds those.
   */
  storage?: S3StorageConfig
}

export const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/4710']
export const DEFAULT_API = { host: '127.0.0.1', port: 4711 }

export function configPath (dir: string): string {
  return join(dir, 'config.json')
}

export async function readConfig (dir: string): Promise<Config> {
  const path = configPath(dir)
  const text = await readFile(path, 'utf8')
  let raw: any
  try {
    raw = JSON.parse(text)
  } catch (err: any) {
    throw new MalformedError(`${path} is not valid JSON: ${err.message}`)
  }
  if (raw == null || typeof raw !== 'object') throw new MalformedError(`${path}: expected an object`)
  if (raw.version !== undefined && raw.version !== 1) {
    throw new MalformedError(`${path} is config version ${JSON.stringify(raw.version)}; this drcore reads config version 1`)
  }
  if (typeof raw.name !== 'string') throw new MalformedError(`${path}: "name" must be a string`)
  if (!Array.isArray(raw.listen) || !raw.listen.every((a: unknown) => typeof a === 'string')) {
    throw new MalformedError(`${path}: "listen" must be a list of multiaddr strings`)
  }
  const api = { ...DEFAULT_API, ...(raw.api ?? {}) }
  if (typeof api.host !== 'string' || !Number.isInteger(api.port) || api.port < 0 || api.port > 65535) {
    throw new MalformedError(`${path}: "api" must be {"host": string, "port": 0-65535}`)
  }
  const config: Config = { version: 1, name: raw.name, listen: raw.listen, api }
  if (raw.prune !== undefined) {
    const schedule = raw.prune?.schedule
    if (typeof raw.prune !== 'object' || raw.prune === null || (schedule !== null && typeof schedule !== 'string')) {
      throw new MalformedError(`${path}: "prune" must be {"schedule": "<cron expression>"} or {"schedule": null}`)
    }
    config.prune = { schedule }
  }
  if (raw.storage !== undefined) config.storage = readStorage(raw.storage, path)
  return config
}

export async function writeConfig (dir: string, config: Config): Promise<void> {
  const path = configPath(dir)
  await writeFile(path + '.tmp', JSON.stringify(config, null, 2) + '\n', { mode: 0o600 })
  await rename(path + '.tmp', path)
}

const STORAGE_KEYS = new Set(['type', 'bucket', 'prefix', 'endpoint', 'region', 'pathStyle', 'cacheBytes', 'maxAttempts'])

function readStorage (raw: any, path: string): S3StorageConfig {
  const bad = (what: string): never => { throw new MalformedError(`${path}: "storage" ${what}`) }
  if (raw === null || typeof raw !== 'object') bad('must be an object')
  if (raw.type !== 's3') bad(`has type ${JSON.stringify(raw.type)}; this drcore knows "s3"`)
  for (const key of Object.keys(raw)) {
    if (!STORAGE_KEYS.has(key)) bad(`has the unknown key "${key}" (credentials never go here: the SDK's default chain finds them)`)
  }
  if (typeof raw.bucket !== 'string' || raw.bucket === '') bad('needs a "bucket"')
  if (typeof raw.prefix !== 'string') bad('needs a "prefix" (a string, "" for the bucket\'s root)')
  for (const key of ['endpoint', 'region']) if (raw[key] !== undefined && typeof raw[key] !== 'string') bad(`"${key}" must be a string`)
  if (raw.pathStyle !== undefined && typeof raw.pathStyle !== 'boolean') bad('"pathStyle" must be true or false')
  for (const key of ['cacheBytes', 'maxAttempts']) if (raw[key] !== undefined && !(Number.isInteger(raw[key]) && raw[key] >= 0)) bad(`"${key}" must be a whole number`)
  return { ...raw }
}
