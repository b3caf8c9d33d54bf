import { Hono } from 'hono'
import type { Context } from 'hono'
import type { EventLog } from '../events/log.ts'
import type { Overview } from '../status/index.ts'
import { apiRoutes, authorized } from './api.ts'
import type { OperationRunner } from './api.ts'
import { consoleRoutes, notFoundPage } from './console.ts'
import { EventStreams } from './events.ts'
import { JobCounters, METRICS_CONTENT_TYPE, renderMetrics } from './metrics.ts'
import { openApiDocument } from './openapi.ts'

/** What the daemon's HTTP server needs from a Core. */
export interface HttpCore extends OperationRunner {
  readonly events: EventLog
}

export interface HttpApp {
  readonly app: Hono
  /** ends the open event streams and stops counting (the server cannot close while a stream is open) */
  close (): void
}

/**
 * Everything the daemon serves on its one address:
 *   /api/v1/…                the JSON API (api.ts), its OpenAPI document and the event stream
 *   /metrics                 Prometheus text format
 *   /, /app.js, /app.css     the web console; /login?token=… sets its cookie
 * Everything but the console's static files and /login needs the token.
 */
export function httpApp (core: HttpCore, token: string): HttpApp {
  const app = new Hono()
  const streams = new EventStreams(core.events)
  const jobs = new JobCounters(core.events)
  const openapi = JSON.stringify(openApiDocument())
  const unauthorized = (c: Context): Response => c.json({ error: { name: 'Unauthorized', message: 'missing or wrong API token', exitCode: 1, kind: 'not-authorized' } }, 401)

  app.get('/api/v1/openapi.json', c => {
    if (!authorized(c, token)) return unauthorized(c)
    return c.body(openapi, 200, { 'content-type': 'application/json' })
  })
  app.get('/api/v1/events/stream', c => {
    if (!authorized(c, token)) return unauthorized(c)
    const since = c.req.header('last-event-id') ?? c.req.query('since')
    if (since != null && !/^\d+$/.test(since)) {
      return c.json({ error: { name: 'UsageError', message: 'events stream: "since" (or Last-Event-ID) must be a sequence number', exitCode: 2, kind: 'bad-input' } }, 400)
    }
    return streams.response(since == null ? undefined : Number(since), c.req.raw.signal)
  })
  app.route('/api/v1', apiRoutes(core, token))
  app.get('/metrics', async c => {
    if (!authorized(c, token)) return unauthorized(c)
    const overview = await core.run('status', {}) as Overview
    return c.body(renderMetrics(overview, jobs, core.events), 200, { 'content-type': METRICS_CONTENT_TYPE })
  })
  app.route('/', consoleRoutes(token))
  app.notFound(c => {
    if (c.req.path.startsWith('/api/')) {
      if (!authorized(c, token)) return unauthorized(c)
      return c.json({ error: { name: 'NotFound', message: `no such API route: ${c.req.method} ${c.req.path}`, exitCode: 1, kind: 'not-found' } }, 404)
    }
    return notFoundPage(c)
  })
  app.onError((err, c) => {
    console.error(err)
    return c.json({ error: { name: 'InternalError', message: err.message, exitCode: 1, kind: 'internal' } }, 500)
  })
  return {
    app,
    close: () => {
      streams.closeAll()
      jobs.stop()
    }
  }
}
