import { Hono } from 'hono'
import type { Context } from 'hono'
import { operations } from '../api/operations.ts'
import type { OperationName, OperationSpec, Progress } from '../api/operations.ts'
import { validateInput } from '../api/validate.ts'
import { isExpectedError, NotFoundError, UsageError } from '../errors.ts'
import type { ErrorKind } from '../errors.ts'
import { Throttle } from '../common/throttle.ts'
import { cancellable } from '../api/cancel.ts'
import { randomUUID } from 'node:crypto'
import { sameToken } from './token.ts'

/** What the HTTP layer needs from a Core: one function that runs any operation. */
export interface OperationRunner {
  run (name: OperationName, input: Record<string, unknown>, onProgress?: (p: Progress) => void): Promise<unknown>
}

/**
 * Builds the `/api/v1` routes from the operations table. Every request needs the token (bearer
 * header, or the `drcore_token` cookie that the console's login link sets, see `authorized`). Errors are JSON:
 * 400 for bad input, 401 without the token, 404 for unknown things, 409/422 for refused work,
 * 500 for bugs (message only, never a stack).
 */
export function apiRoutes (runner: OperationRunner, token: string): Hono {
  const app = new Hono()
  app.use('*', async (c, next) => {
    if (!authorized(c, token)) return c.json({ error: { name: 'Unauthorized', message: 'missing or wrong API token', exitCode: 1, kind: 'not-authorized' } }, 401)
    await next()
  })
  /** long operations running for a client, by the id their stream begins with, to cancel them */
  const running = new Map<string, () => void>()
  // POST /operations/{id}/cancel: the CLI's Ctrl-C; the operation's stream then ends with its outcome
  app.post('/operations/:id/cancel', c => {
    const cancel = running.get(c.req.param('id'))
    if (cancel == null) return errorResponse(c, new NotFoundError(`no operation ${c.req.param('id')} is running`))
    cancel()
    return c.json({ cancelling: c.req.param('id') }, 202)
  })
  for (const [name, spec] of Object.entries(operations) as Array<[OperationName, OperationSpec]>) {
    const route = spec.path.replace(/\{(\w+)\}/g, ':$1')
    const handler = async (c: Context): Promise<Response> => {
      let input: Record<string, unknown>
      try {
        input = validateInput(name, spec, await readInput(c, spec), spec.method !== 'POST')
      } catch (err) {
        return errorResponse(c, err)
      }
      if (spec.progress === true) return progressResponse(runner, name, input, spec.cancellable === false ? undefined : running)
      try {
        return c.json((await runner.run(name, input)) ?? null)
      } catch (err) {
        return errorResponse(c, err)
      }
    }
    if (spec.method === 'GET') app.get(route, handler)
    else if (spec.method === 'POST') app.post(route, handler)
    else app.delete(route, handler)
  }
  app.notFound(c => c.json({ error: { name: 'NotFound', message: `no such API route: ${c.req.method} ${c.req.path}`, exitCode: 1, kind: 'not-found' } }, 404))
  app.onError((err, c) => errorResponse(c, err))
  return app
}

/**
 * The bearer token, or a console cookie: `drcore_token`, or `drcore_token_<port>` as the login
 * link sets it (browsers share cookies across ports, so two Cores on one host need two names).
 */
export function authorized (c: Context, token: string): boolean {
  const header = c.req.header('authorization')
  if (header?.startsWith('Bearer ') === true) return sameToken(header.slice(7), token)
  for (const m of (c.req.header('cookie') ?? '').matchAll(/(?:^|;\s*)drcore_token(?:_\d+)?=([^;]*)/g)) {
    if (sameToken(m[1], token)) return true
  }
  return false
}

async function readInput (c: Context, spec: OperationSpec): Promise<Record<string, unknown>> {
  const input: Record<string, unknown> = {}
  if (spec.method === 'POST') {
    const text = await c.req.text()
    if (text.trim() !== '') {
      let body: unknown
      try {
        body = JSON.parse(text)
      } catch {
        throw new UsageError('the request body is not valid JSON')
      }
      if (body == null || typeof body !== 'object' || Array.isArray(body)) throw new UsageError('the request body must be a JSON object')
      Object.assign(input, body)
    }
  } else {
    Object.assign(input, c.req.query())
  }
  Object.assign(input, c.req.param())
  return input
}

/**
 * The HTTP status of each kind of expected failure (docs/api.md, "Errors"). A damaged block is
 * 422, not a conflict: the request was fine and asking again will not help, repairing will; a
 * peer away or late is 503 or 504, the gateway's words for an upstream that failed.
 */
const STATUS_OF_KIND = {
  'bad-input': 400,
  'not-authorized': 403,
  'not-found': 404,
  refused: 409,
  damaged: 422,
  operational: 500,
  'rate-limited': 429,
  unavailable: 503,
  timeout: 504
} as const satisfies Record<ErrorKind, number>

export type ErrorStatus = (typeof STATUS_OF_KIND)[ErrorKind]

/** The status of an error: from its kind when drcore expected it; 500 for a bug. */
export function errorStatus (err: unknown): ErrorStatus {
  return isExpectedError(err) ? STATUS_OF_KIND[err.kind] : 500
}

/** The JSON body of an error: name, one-line message, the CLI's exit code, and its kind. */
export function errorBody (err: unknown): { error: { name: string, message: string, exitCode: number, kind: ErrorKind | 'internal' } } {
  const e = err as Error | undefined
  return {
    error: {
      name: e?.name ?? 'Error',
      message: e?.message ?? String(err),
      exitCode: isExpectedError(err) ? err.exitCode : 1,
      kind: isExpectedError(err) ? err.kind : 'internal'
    }
  }
}

function errorResponse (c: Context, err: unknown): Response {
  const status = errorStatus(err)
  // a bug's stack goes to the daemon's log; an expected failure is the client's to read
  if (!isExpectedError(err)) console.error(err)
  return c.json(errorBody(err), status)
}

/** NDJSON: progress lines, then a result or an error line. */
function progressResponse (runner: OperationRunner, name: OperationName, input: Record<string, unknown>, running?: Map<string, () => void>): Response {
  const encoder = new TextEncoder()
  const throttle = new Throttle()
  const id = randomUUID()
  let cancelled = false
  // The client may go away (Ctrl-C, `--no-wait`) while the operation goes on: from then on
  // progress is dropped, and a write to the closed stream must never fail the operation itself.
  let open = true
  const stream = new ReadableStream<Uint8Array>({
    async start (controller) {
      const send = (obj: unknown): void => {
        if (!open) return
        try {
          controller.enqueue(encoder.encode(JSON.stringify(obj) + '\n'))
        } catch {
          open = false
        }
      }
      // first line: the operation's id, for POST /operations/{id}/cancel
      send({ operation: id })
      running?.set(id, () => { cancelled = true })
      try {
        const result = await runner.run(name, input, cancellable(name, () => cancelled, p => {
          // the line that says "all done" always goes out
          if (throttle.ready(p.total != null && p.done >= p.total)) send({ progress: p })
        }))
        send({ result: result ?? null })
      } catch (err: any) {
        if (!isExpectedError(err)) console.error(err)
        send(errorBody(err))
      } finally {
        running?.delete(id)
      }
      if (open) {
        open = false
        try { controller.close() } catch {}
      }
    },
    cancel () {
      open = false
    }
  })
  return new Response(stream, { headers: { 'content-type': 'application/x-ndjson' } })
}
