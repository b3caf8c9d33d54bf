/** Requests to an object store since the Core started, by kind. */
export interface StorageUsage {
  kind: 's3'
  location: string
  /** requests sent, by operation (GetObject, PutObject, ...), retries included */
  requests: Record<string, number>
  /** requests that failed for good (after retries), by operation */
  errors: Record<string, number>
  /** attempts the client retried (throttling, timeouts, resets) */
  retries: number
  bytesUploaded: number
  bytesDownloaded: number
  /** the read cache: bytes held, hits and misses of its segments */
  cache: { bytes: number, limit: number, hits: number, misses: number }
}
