import { UsageError } from '../../errors.ts'

/**
 * Where a repository keeps its packs in an S3-compatible object store: `config.json`'s
 * `storage` (docs/storage.md). Credentials are never here: the SDK's default provider chain
 * finds them (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a shared credentials file, a profile).
 */
export interface S3StorageConfig {
  type: 's3'
  bucket: string
  /** key prefix of every object, without leading or trailing slash; '' for the bucket's root */
  prefix: string
  /** e.g. http://127.0.0.1:18080 for a store other than AWS */
  endpoint?: string
  region?: string
  /** bucket in the path (http://host/bucket/key): MinIO, Ceph RGW and Swift usually want it */
  pathStyle?: boolean
  /** bytes of recently read pack segments kept in memory (default 256 MiB) */
  cacheBytes?: number
  /** attempts per request before a failure is reported (default 8) */
  maxAttempts?: number
  /** packs larger than this go up as a multipart upload in parts of this size (default 16 MiB, at least 5 MiB: S3's smallest part) */
  partBytes?: number
}

/** `s3://BUCKET/PREFIX` as a location string. */
export function s3Url (bucket: string, prefix: string): string {
  return prefix === '' ? `s3://${bucket}` : `s3://${bucket}/${prefix}`
}

/** Parses `s3://BUCKET[/PREFIX]`; throws a one-line `UsageError` naming what is wrong. */
export function parseS3Url (url: string): { bucket: string, prefix: string } {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url)
  if (match === null) throw new UsageError(`--storage ${url}: expected s3://BUCKET/PREFIX`)
  const bucket = match[1]
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new UsageError(`--storage ${url}: "${bucket}" is not a valid bucket name (3 to 63 lower-case letters, digits, dots and hyphens)`)
  const prefix = (match[2] ?? '').replace(/^\/+|\/+$/g, '')
  if (prefix.split('/').some((part) => part === '.' || part === '..') || prefix.includes('//')) throw new UsageError(`--storage ${url}: the prefix may not hold empty, "." or ".." parts`)
  return { bucket, prefix }
}
