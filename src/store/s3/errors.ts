import { OperationalError, UserError } from '../../errors.ts'
import type { OperationalErrorKind } from '../../errors.ts'

/**
 * A request to the object store failed for good (after retries), for a reason the operator
 * fixes: wrong credentials, a missing bucket, an unreachable endpoint. One line naming the
 * bucket and the cause. Operational, not the request's fault: `unavailable` when the store
 * cannot be reached, `timeout` when it did not answer in time, else `operational`.
 */
export class ObjectStoreError extends OperationalError {
  override name = 'ObjectStoreError'
  override readonly kind: OperationalErrorKind
  /** the S3 error code or the network error code */
  readonly code: string | undefined
  constructor (message: string, code?: string, kind: OperationalErrorKind = 'operational') {
    super(message)
    this.code = code
    this.kind = kind
  }
}

/** Another Core holds the lock of the prefix: one Core writes one prefix. */
export class PrefixLockedError extends UserError {
  override name = 'PrefixLockedError'
}

const CREDENTIALS = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'InvalidToken', 'ExpiredToken', 'Forbidden', 'InvalidSecurity', 'AuthorizationHeaderMalformed'])
const TIMEOUTS = new Set(['ETIMEDOUT', 'TimeoutError', 'RequestTimeout'])
const NETWORK = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'TimeoutError', 'RequestTimeout'])

/** What is wrong, in one line naming the bucket, for an error the S3 client threw. */
export function describeS3Error (err: unknown, bucket: string, endpoint: string, doing: string): ObjectStoreError {
  const e = err as { name?: string, Code?: string, code?: string, message?: string, $metadata?: { httpStatusCode?: number }, cause?: { code?: string } }
  const named = e.Code ?? e.code ?? e.cause?.code ?? e.name
  // a HEAD has no body: the SDK names its error 'Unknown' (or after the status, e.g. 'Forbidden')
  const code = named === 'Unknown' || named === 'Error' ? undefined : named
  const status = e.$metadata?.httpStatusCode
  if (e.name === 'CredentialsProviderError' || /Could not load credentials/i.test(e.message ?? '')) {
    return new ObjectStoreError(`no credentials for bucket ${bucket}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in the shared credentials file (AWS_PROFILE)`, 'NoCredentials')
  }
  if ((code !== undefined && CREDENTIALS.has(code)) || status === 403) {
    return new ObjectStoreError(`the object store at ${endpoint} refused the credentials for bucket ${bucket} (${code ?? `HTTP ${status}`}) while ${doing}: check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the profile, and the bucket's permissions`, code)
  }
  if (code === 'NoSuchBucket' || (status === 404 && doing === 'checking the bucket')) {
    return new ObjectStoreError(`bucket ${bucket} does not exist at ${endpoint}: create it, or point --storage at an existing bucket`, 'NoSuchBucket')
  }
  if (code !== undefined && NETWORK.has(code)) {
    return new ObjectStoreError(`cannot reach the object store at ${endpoint} for bucket ${bucket} (${code}) while ${doing}: check the endpoint and the network`, code, TIMEOUTS.has(code) ? 'timeout' : 'unavailable')
  }
  const what = (e.message ?? String(err)).split('\n')[0]
  return new ObjectStoreError(`the object store at ${endpoint} failed while ${doing} in bucket ${bucket}: ${code ?? 'error'}${status !== undefined ? ` (HTTP ${status})` : ''}: ${what}`, code)
}

/** true when the object (or bucket) is not there: HTTP 404 */
export function isNotFound (err: unknown): boolean {
  const e = err as { name?: string, $metadata?: { httpStatusCode?: number } }
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404
}
