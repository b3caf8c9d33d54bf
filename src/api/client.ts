import { ExpectedError, OperationalError } from '../errors.ts'
import type { ErrorKind } from '../errors.ts'
import { operations } from './operations.ts'
import type { OperationName, OperationSpec, ProgressFn } from './operations.ts'

/** How the CLI finds the running daemon: `<repo>/daemon.json`. */
export interface DaemonInfo {
  pid: number
  url: string
  token: string
  startedAt: string
}

/**
 * Calls a Core's operations over its HTTP API. Errors come back as `{"error": {name, message,
 * exitCode, kind}}` and are rethrown as `DaemonError`s with the same name, message, exit code
 * and kind.
 */
export class HttpCoreClient {
  readonly url: string
  private readonly token: string

  constructor (info: { url: string, token: string }) {
    this.url = info.url.replace(/\/$/, '')
    this.token = info.token
  }

  /**
   * Runs an operation. For a long one (`progress` in the table), `control.cancel` asks the Core
   * to stop it (the result or error that ends the stream still says how it ended), and
   * `control.detach` returns `{detached: true, operation}` as soon as it started, leaving the
   * Core to carry on.
   */
  async call (name: OperationName, input: Record<string, unknown> = {}, onProgress?: ProgressFn, control: OperationControl = {}): Promise<any> {
    const spec: OperationSpec = operations[name]
    const rest = { ...input }
    const path = spec.path.replace(/\{(\w+)\}/g, (_, key: string) => {
      const value = rest[key]
      delete rest[key]
      return encodeURIComponent(String(value))
    })
    let url = `${this.url}/api/v1${path}`
    const init: RequestInit = { method: spec.method, headers: { authorization: `Bearer ${this.token}` } }
    if (spec.method === 'GET' || spec.method === 'DELETE') {
      const query = new URLSearchParams()
      for (const [k, v] of Object.entries(rest)) if (v !== undefined) query.set(k, Array.isArray(v) ? v.join(',') : String(v))
      if (query.size > 0) url += `?${query}`
    } else {
      init.body = JSON.stringify(rest)
      ;(init.headers as Record<string, string>)['content-type'] = 'application/json'
    }
    let res: Response
    try {
      res = await fetch(url, init)
    } catch (err: any) {
      throw new DaemonUnreachableError(`cannot reach the drcore daemon at ${this.url}: ${err.cause?.code ?? err.message}`)
    }
    if (spec.progress === true && res.ok && res.body != null) {
      const onStarted = async (operation: string): Promise<unknown> => {
        // leaving the stream unread closes it; the Core carries on (api.ts drops its progress)
        if (control.detach === true) return { detached: true, operation }
        const cancel = async (): Promise<void> => {
          await fetch(`${this.url}/api/v1/operations/${operation}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${this.token}` } }).catch(() => {})
        }
        if (control.cancel?.aborted === true) await cancel()
        else control.cancel?.addEventListener('abort', () => { void cancel() }, { once: true })
        return undefined
      }
      return await readProgressStream(res.body, onProgress, onStarted)
    }
    const text = await res.text()
    let body: any
    try {
      body = text === '' ? null : JSON.parse(text)
    } catch {
      throw new OperationalError(`the drcore daemon answered ${res.status} with a body that is not JSON`)
    }
    if (!res.ok) throw remoteError(body, res.status)
    return body
  }
}

/** What the caller of a long operation may do with it while it runs. */
export interface OperationControl {
  /** aborted: ask the Core to stop the operation */
  cancel?: AbortSignal
  /** return once the operation started */
  detach?: boolean
}

async function readProgressStream (body: ReadableStream<Uint8Array>, onProgress?: ProgressFn, onStarted?: (operation: string) => Promise<unknown>): Promise<any> {
  const decoder = new TextDecoder()
  let buffered = ''
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true })
    let nl: number
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      if (line.trim() === '') continue
      const msg = JSON.parse(line)
      if (typeof msg.operation === 'string') {
        const early = await onStarted?.(msg.operation)
        if (early !== undefined) return early
      } else if (msg.progress != null) onProgress?.(msg.progress)
      else if (msg.error != null) throw remoteError(msg, 500)
      else if ('result' in msg) return msg.result
    }
  }
  throw new DaemonUnreachableError('the drcore daemon closed the connection before the operation finished')
}

const KINDS: readonly ErrorKind[] = ['bad-input', 'refused', 'not-found', 'not-authorized', 'damaged', 'operational', 'unavailable', 'timeout', 'rate-limited']

/** The daemon cannot be reached, or the connection to it ended before the answer. */
export class DaemonUnreachableError extends OperationalError {
  override name = 'DaemonUnreachableError'
  override readonly kind = 'unavailable'
}

/** A failure the daemon reported, as it reported it: the CLI prints it as one line and exits with its code. */
export class DaemonError extends ExpectedError {
  override name = 'DaemonError'
  readonly kind: ErrorKind
  constructor (message: string, kind: ErrorKind) {
    super(message)
    this.kind = kind
  }
}

function remoteError (body: any, status: number): Error {
  const kind = KINDS.find(k => k === body?.error?.kind) ?? 'operational'
  const err = new DaemonError(body?.error?.message ?? `the drcore daemon answered HTTP ${status}`, kind)
  if (typeof body?.error?.exitCode === 'number') err.exitCode = body.error.exitCode
  if (typeof body?.error?.name === 'string') err.name = body.error.name
  return err
}
