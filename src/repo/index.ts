import { access, constants, mkdir, readFile, writeFile, stat, readdir, chmod, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { hostname } from 'node:os'
import { Level } from 'level'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey, PeerId } from '@libp2p/interface'
import { FileSystemError, fileSystemFault, InvalidInputError, RepositoryExistsError, RepositoryLockedError, RepositoryNotFoundError, OperationalError } from '../errors.ts'
import { readConfig, writeConfig, configPath, DEFAULT_LISTEN, DEFAULT_API } from './config.ts'
import type { Config } from './config.ts'
import { DEFAULT_CHUNKING } from '../chunker/index.ts'
import type { ChunkerOptions } from '../chunker/index.ts'
import { checkRepositoryFormat, recordRepositoryFormat } from './format.ts'
import type { RootDb } from '../store/index.ts'
import type { S3StorageConfig } from '../store/s3/options.ts'
import { makeDirs } from '../fsx/make-dirs.ts'

export type { Config } from './config.ts'

/**
 * A repository on disk, readable by its owner only (folders 0700, files 0600):
 *   config.json     name, listen addresses, API address, chunk sizes
 *   identity.key    the Core's Ed25519 key (libp2p protobuf encoding)
 *   index/          LevelDB: block index and every record
 *   packs/          append-only pack files (with config.storage: packs being written, before upload)
 *   daemon.json     present while `drcore start` runs: API URL, token, pid (mode 0600)
 */
export interface RepositoryFiles {
  dir: string
  config: Config
  privateKey: PrivateKey
  peerId: PeerId
  db: RootDb
  packsDir: string
}

export { resolveRepoDir } from './dir.ts'

export interface InitOptions {
  name?: string
  /** chunk sizes of every backup into the repository (default `DEFAULT_CHUNKING`) */
  chunking?: ChunkerOptions
  listen?: string[]
  apiPort?: number
  apiHost?: string
  /** pack files in an S3 bucket instead of packs/ (docs/storage.md) */
  storage?: S3StorageConfig
}

export async function initRepository (dir: string, opts: InitOptions = {}): Promise<{ peerId: PeerId, config: Config }> {
  if (await exists(configPath(dir)) || await exists(join(dir, 'index'))) {
    throw new RepositoryExistsError(`a drcore repository already exists at ${dir}; refusing to overwrite it`)
  }
  const existed = await exists(dir)
  if (existed) {
    const entries = await readdir(dir).catch(() => { throw new InvalidInputError(`${dir} exists and is not a directory`) })
    if (entries.length > 0) throw new RepositoryExistsError(`${dir} is not empty; choose an empty or new directory for the repository`)
  }
  try {
    // the owner's only: folders 0700, files 0600, whatever the umask (docs/architecture.md)
    await makeDirs(dir, 0o700)
    await chmod(dir, 0o700)
    await mkdir(join(dir, 'packs'), { mode: 0o700 })
    await mkdir(join(dir, 'index'), { mode: 0o700 })
    const key = await generateKeyPair('Ed25519')
    await writeFile(join(dir, 'identity.key'), privateKeyToProtobuf(key), { mode: 0o600 })
    await chmod(join(dir, 'identity.key'), 0o600)
    const config: Config = {
      version: 1,
      name: opts.name ?? hostname(),
      listen: opts.listen != null && opts.listen.length > 0 ? opts.listen : DEFAULT_LISTEN,
      api: { host: opts.apiHost ?? DEFAULT_API.host, port: opts.apiPort ?? DEFAULT_API.port },
      chunking: { ...(opts.chunking ?? DEFAULT_CHUNKING) }
    }
    if (opts.storage !== undefined) config.storage = opts.storage
    const db: RootDb = new Level(join(dir, 'index'))
    await db.open()
    try {
      await recordRepositoryFormat(db)
    } finally {
      await db.close()
    }
    await writeConfig(dir, config)
    return { peerId: peerIdFromPrivateKey(key), config }
  } catch (err) {
    // half a repository would make the retry refuse ("already exists"): remove what this run made
    if (existed) await Promise.all((await readdir(dir).catch(() => [])).map(async name => await rm(join(dir, name), { recursive: true, force: true })))
    else await rm(dir, { recursive: true, force: true }).catch(() => {})
    // the operator named this directory: a full disk, a read-only mount or a permission is theirs to fix
    if (fileSystemFault(err) !== undefined) throw new FileSystemError('creating the repository', dir, err)
    throw err
  }
}

/** Opens the repository exclusively (LevelDB's lock). */
export async function openRepositoryFiles (dir: string): Promise<RepositoryFiles> {
  try {
    await access(dir, constants.R_OK | constants.W_OK | constants.X_OK)
  } catch (err: any) {
    if (err.code === 'EACCES') {
      throw new OperationalError(`repository ${dir} is not open to this user: a repository is readable by its owner only; run drcore as the user who owns it`)
    }
  }
  if (!await exists(configPath(dir))) {
    throw new RepositoryNotFoundError(`no drcore repository at ${dir} (create one with: drcore init --repo ${dir})`)
  }
  const config = await readConfig(dir)
  let keyBytes: Uint8Array
  try {
    keyBytes = await readFile(join(dir, 'identity.key'))
  } catch (err: any) {
    throw new OperationalError(`cannot read the Core's identity key ${join(dir, 'identity.key')}: ${err.code ?? err.message}`)
  }
  const privateKey = privateKeyFromProtobuf(keyBytes)
  const db: RootDb = new Level(join(dir, 'index'))
  try {
    await db.open()
  } catch (err: any) {
    if (err.code === 'LEVEL_LOCKED' || err.cause?.code === 'LEVEL_LOCKED') {
      const pid = await daemonPid(dir)
      throw new RepositoryLockedError(`repository ${dir} is in use by another drcore process${pid != null ? ` (pid ${pid})` : ''}`)
    }
    // LevelDB writes while it opens (it turns its log into a table): a full disk stops it
    if (fileSystemFault(err) !== undefined) throw new FileSystemError('opening the index of repository', dir, err)
    throw new OperationalError(`cannot open the index of repository ${dir}: ${err.cause?.message ?? err.message}`)
  }
  try {
    await checkRepositoryFormat(db, dir)
  } catch (err) {
    await db.close()
    throw err
  }
  return { dir, config, privateKey, peerId: peerIdFromPrivateKey(privateKey), db, packsDir: join(dir, 'packs') }
}

async function daemonPid (dir: string): Promise<number | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'daemon.json'), 'utf8')).pid
  } catch {
    return undefined
  }
}

async function exists (path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}
