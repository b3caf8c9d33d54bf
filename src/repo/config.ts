import { readFile, writeFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { MalformedError, UsageError } from '../errors.ts'
import { LEGACY_CHUNKING } from '../chunker/index.ts'
import type { ChunkerOptions } from '../chunker/index.ts'
import { MAX_BLOCK_SIZE } from '../protocol/constants.ts'
import { parseListenAddress } from './addresses.ts'
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
   * chunk sizes of every backup into this repository, fixed at init (`--chunk-size`): changing
   * them would cut the same data at other boundaries, and new points would no longer dedup with
   * old ones. A config without them predates the field and keeps the sizes all backups used then
   * (`LEGACY_CHUNKING`).
   */
  chunking: ChunkerOptions
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
  for (const address of raw.listen) {
    // a hand-edited address fails here, naming the file, and not deep in libp2p at start
    try {
      if (!address.startsWith('/')) throw new UsageError(`${path}: "listen" ${address}: not a multiaddr; write /ip4/ADDRESS/tcp/PORT, or use drcore config set listen, which takes HOST:PORT too`)
      parseListenAddress(address, `${path}: "listen"`)
    } catch (err) {
      if (err instanceof UsageError) throw new MalformedError(err.message)
      throw err
    }
  }
  const api = { ...DEFAULT_API, ...(raw.api ?? {}) }
  if (typeof api.host !== 'string' || !Number.isInteger(api.port) || api.port < 0 || api.port > 65535) {
    throw new MalformedError(`${path}: "api" must be {"host": string, "port": 0-65535}`)
  }
  const chunking = raw.chunking === undefined ? { ...LEGACY_CHUNKING } : checkChunking(path, raw.chunking)
  const config: Config = { version: 1, name: raw.name, listen: raw.listen, api, chunking }
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

function checkChunking (path: string, raw: any): ChunkerOptions {
  const sizes = { minSize: raw?.minSize, avgSize: raw?.avgSize, maxSize: raw?.maxSize }
  const valid = Object.values(sizes).every(n => Number.isSafeInteger(n) && n > 0) &&
    sizes.minSize < sizes.avgSize && sizes.avgSize < sizes.maxSize && sizes.avgSize >= 256 && sizes.maxSize <= MAX_BLOCK_SIZE
  if (!valid) {
    throw new MalformedError(`${path}: "chunking" must be {"minSize", "avgSize", "maxSize"} in bytes with min < avg < max <= ${MAX_BLOCK_SIZE}, got ${JSON.stringify(raw)}`)
  }
  return sizes
}

export async function writeConfig (dir: string, config: Config): Promise<void> {
  const path = configPath(dir)
  await writeFile(path + '.tmp', JSON.stringify(config, null, 2) + '\n', { mode: 0o600 })
  await rename(path + '.tmp', path)
}

const STORAGE_KEYS = new Set(['type', 'bucket', 'prefix', 'endpoint', 'region', 'pathStyle', 'cacheBytes', 'maxAttempts', 'partBytes'])

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
  for (const key of ['cacheBytes', 'maxAttempts', 'partBytes']) if (raw[key] !== undefined && !(Number.isInteger(raw[key]) && raw[key] >= 0)) bad(`"${key}" must be a whole number`)
  if (raw.partBytes !== undefined && !(Number.isInteger(raw.partBytes) && raw.partBytes >= 5 * 1024 * 1024)) bad('"partBytes" must be a whole number of at least 5 MiB (5242880), S3\'s smallest part')
  return { ...raw }
}
