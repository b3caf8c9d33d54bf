import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { CreateBucketCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { tempDir, removeDir } from './dirs.ts'
import { freePort } from './wait.ts'
import { ROOT } from './daemon.ts'

const run = promisify(execFile)

/**
 * The real S3 store tests run against: OpenStack Swift with its s3api layer on 127.0.0.1
 * (shared/tools/swift-s3.sh, beside the repository; a copy in test/support/ when not there).
 * Each test file starts its own on free ports (about 3 s once Debian's packages are installed)
 * and stops it in `after`.
 */
export interface Swift {
  endpoint: string
  /** the client settings of every drcore process that talks to it */
  env: Record<string, string>
  client: S3Client
  createBucket: (name: string) => Promise<void>
  /** object keys under `prefix` */
  keys: (bucket: string, prefix: string) => Promise<string[]>
  /** multipart uploads not completed nor aborted under `prefix` */
  uploads: (bucket: string, prefix: string) => Promise<string[]>
  stop: () => Promise<void>
}

export const SWIFT_SCRIPT = [join(ROOT, '..', 'shared', 'tools', 'swift-s3.sh'), join(ROOT, 'test', 'support', 'swift-s3.sh')].find(existsSync)

/**
 * Why Swift cannot run here, or undefined when it can: the script is missing, or its packages
 * are not installed and cannot be (not root, no apt-get).
 */
export async function swiftUnavailable (): Promise<string | undefined> {
  if (SWIFT_SCRIPT === undefined) return 'shared/tools/swift-s3.sh is not beside the repository'
  // eslint-disable-next-line no-template-curly-in-string -- dpkg-query's own format, not a template
  const installed = await run('dpkg-query', ['-W', '-f=${Status}', 'swift-proxy']).then((r) => r.stdout.includes('install ok installed'), () => false)
  if (installed) return undefined
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) return 'the swift packages are not installed and this user cannot install them (.ci/run installs them as root)'
  return undefined
}

export async function startSwift (): Promise<Swift> {
  const data = await tempDir('drcore-swift-')
  const port = await freePort()
  const backend = await freePort()
  const env = { ...process.env, SWIFT_S3_PORT: String(port), SWIFT_BACKEND_PORT: String(backend), SWIFT_LOG_LEVEL: 'WARNING', SWIFT_START_TIMEOUT: '300' }
  try {
    await run('bash', [SWIFT_SCRIPT!, 'start', data], { env, timeout: 600_000 })
  } catch (err) {
    await run('bash', [SWIFT_SCRIPT!, 'stop', data], { env }).catch(() => {})
    await removeDir(data)
    throw new Error(`Swift did not start: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`)
  }
  const endpoint = `http://127.0.0.1:${port}`
  const clientEnv = {
    AWS_ACCESS_KEY_ID: 'test:tester',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: 'us-east-1'
  }
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: clientEnv.AWS_ACCESS_KEY_ID, secretAccessKey: clientEnv.AWS_SECRET_ACCESS_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED'
  })
  return {
    endpoint,
    env: clientEnv,
    client,
    createBucket: async (name) => { await client.send(new CreateBucketCommand({ Bucket: name })) },
    keys: async (bucket, prefix) => {
      const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix === '' ? undefined : `${prefix}/` }))
      return (out.Contents ?? []).map((o) => o.Key!).sort()
    },
    uploads: async (bucket, prefix) => {
      const out = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `${prefix}/` }))
      return (out.Uploads ?? []).map((u) => u.Key!)
    },
    stop: async () => {
      client.destroy()
      await run('bash', [SWIFT_SCRIPT!, 'stop', data], { env }).catch(() => {})
      await removeDir(data)
    }
  }
}
