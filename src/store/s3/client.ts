import { S3Client } from '@aws-sdk/client-s3'
import type { S3StorageConfig } from './options.ts'

/** Counters of the requests one client sent (for `status` and /metrics). */
export interface RequestCounters {
  requests: Record<string, number>
  errors: Record<string, number>
  retries: number
}

export const DEFAULT_MAX_ATTEMPTS = 8

/**
 * The S3 client of a pack storage. Settings that every S3 implementation accepts: checksums
 * only where the operation requires one (Swift's s3api and older MinIO/Ceph refuse the
 * aws-chunked uploads newer SDKs send by default; every block is rehashed against its CID on
 * read anyway), and the SDK's standard retry strategy (exponential backoff with jitter) on
 * throttling (503 SlowDown), timeouts and connection resets.
 */
export function createS3Client (config: S3StorageConfig, counters: RequestCounters): S3Client {
  const client = new S3Client({
    endpoint: config.endpoint,
    region: config.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    forcePathStyle: config.pathStyle ?? false,
    maxAttempts: config.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    retryMode: 'standard',
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // connectionTimeout: a dead endpoint fails in seconds; requestTimeout: a stalled socket is retried
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000 }
  })
  client.middlewareStack.add((next, context) => async (args) => {
    const op = context.commandName ?? 'request'
    counters.requests[op] = (counters.requests[op] ?? 0) + 1
    try {
      const out = await next(args)
      counters.retries += Math.max(0, ((out.output as any)?.$metadata?.attempts ?? 1) - 1)
      return out
    } catch (err) {
      counters.retries += Math.max(0, ((err as any)?.$metadata?.attempts ?? 1) - 1)
      // a 404 on a HEAD is an answer, not a failure
      if ((err as any)?.$metadata?.httpStatusCode !== 404) counters.errors[op] = (counters.errors[op] ?? 0) + 1
      throw err
    }
  }, { step: 'initialize', name: 'drcoreRequestCounters' })
  return client
}
