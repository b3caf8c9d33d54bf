import { operations } from '../api/operations.ts'
import type { OperationName, OperationSpec, ParamSpec } from '../api/operations.ts'

/**
 * The OpenAPI 3.1 document of `/api/v1`, generated from the operations table so it cannot drift
 * from what the server accepts: path segments `{name}` are path parameters; the other parameters
 * go in the query string for GET and DELETE and in a JSON body for POST. Served at
 * `/api/v1/openapi.json` (which, like every route, needs the token).
 */
export function openApiDocument (options: { version?: string } = {}): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const [name, spec] of Object.entries(operations) as Array<[OperationName, OperationSpec]>) {
    paths[spec.path] ??= {}
    paths[spec.path][spec.method.toLowerCase()] = operationObject(name, spec)
  }
  paths['/events/stream'] = {
    get: {
      operationId: 'eventsStream',
      summary: 'Live events as server-sent events',
      description: 'Every new event as an SSE message (`id` = its sequence number, `data` = the event as JSON, whose `type` says what happened). ' +
        'Stored events are replayed from `Last-Event-ID` (or `since`) on reconnect. Live-only progress updates ' +
        '(`replication.progress`) carry no id. A comment line is sent every 15 seconds to keep the connection open.',
      parameters: [{ name: 'since', in: 'query', required: false, description: 'replay stored events after this sequence number', schema: { type: 'integer' } }],
      responses: {
        200: { description: 'an endless `text/event-stream`', content: { 'text/event-stream': { schema: { type: 'string' } } } },
        ...errorResponses()
      }
    }
  }
  paths['/openapi.json'] = {
    get: {
      operationId: 'openapi',
      summary: 'This document',
      responses: { 200: { description: 'OpenAPI 3.1 document', content: { 'application/json': { schema: { type: 'object' } } } }, ...errorResponses() }
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'drcore Core API',
      version: options.version ?? '1',
      // the project's licence (package.json), as an SPDX identifier
      license: { name: 'Apache License 2.0', identifier: 'Apache-2.0' },
      description: 'The JSON API of a running drcore Core, used by the CLI and the web console. Every request needs the ' +
        'token from `<repo>/api-token`: as `Authorization: Bearer <token>`, or the `drcore_token` cookie set by `/login?token=…`. ' +
        'Errors are `{"error": {"name", "message", "exitCode", "kind"}}` and never carry a stack trace. Prometheus metrics are served ' +
        'outside this prefix at `/metrics` (same token).'
    },
    servers: [{ url: '/api/v1' }],
    security: [{ bearerAuth: [] }, { cookieAuth: [] }],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'the token in `<repo>/api-token`' },
        cookieAuth: { type: 'apiKey', in: 'cookie', name: 'drcore_token', description: 'set by `/login?token=…` (HttpOnly, SameSite=Strict); the login link names it `drcore_token_<port>` so that several Cores on one host keep separate cookies, and both names are accepted' }
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['name', 'message', 'exitCode'],
              properties: {
                name: { type: 'string', description: 'error class, e.g. UsageError, NotFoundError, Unauthorized' },
                message: { type: 'string', description: 'one sentence for the operator' },
                exitCode: { type: 'integer', description: 'what the CLI exits with for this error' },
                kind: {
                  type: 'string',
                  enum: ['bad-input', 'refused', 'not-found', 'not-authorized', 'damaged', 'operational', 'unavailable', 'timeout', 'rate-limited', 'internal'],
                  description: 'what kind of failure: the operator\'s to fix by asking differently (bad-input, refused, not-found, not-authorized), the machine\'s, the data\'s or a peer\'s (damaged, operational, unavailable, timeout), or a bug (internal); the status follows from it'
                }
              }
            }
          }
        },
        ProgressLine: {
          description: 'one line of an NDJSON progress stream: progress reports, then exactly one result or error line',
          oneOf: [
            {
              type: 'object',
              required: ['progress'],
              properties: {
                progress: {
                  type: 'object',
                  required: ['phase', 'done', 'unit'],
                  properties: {
                    phase: { type: 'string' },
                    done: { type: 'number' },
                    total: { type: 'number' },
                    unit: { type: 'string', enum: ['bytes', 'blocks', 'files', 'points', 'packs'] },
                    detail: { type: 'string' }
                  }
                }
              }
            },
            { type: 'object', required: ['result'], properties: { result: {} } },
            { $ref: '#/components/schemas/Error' }
          ]
        }
      }
    }
  }
}

function operationObject (name: OperationName, spec: OperationSpec): Record<string, unknown> {
  const pathParams = new Set([...spec.path.matchAll(/\{(\w+)\}/g)].map(m => m[1]))
  const parameters: unknown[] = []
  const bodyProperties: Record<string, unknown> = {}
  const bodyRequired: string[] = []
  for (const [key, param] of Object.entries(spec.params) as Array<[string, ParamSpec]>) {
    if (pathParams.has(key)) {
      parameters.push({ name: key, in: 'path', required: true, description: param.description, schema: schemaOf(param) })
    } else if (spec.method === 'POST') {
      bodyProperties[key] = { ...schemaOf(param), ...(param.description != null ? { description: param.description } : {}) }
      if (param.required === true) bodyRequired.push(key)
    } else {
      parameters.push({
        name: key,
        in: 'query',
        required: param.required === true,
        description: param.description,
        schema: schemaOf(param),
        ...(param.type === 'string[]' ? { style: 'form', explode: false } : {})
      })
    }
  }
  const op: Record<string, unknown> = {
    operationId: name,
    summary: spec.summary,
    tags: [tagOf(spec.path)],
    parameters: parameters.map(p => dropUndefined(p as Record<string, unknown>)),
    responses: {
      200: spec.progress === true
        ? {
            description: 'an NDJSON stream: `{"progress":…}` lines, then one `{"result":…}` or `{"error":…}` line',
            content: { 'application/x-ndjson': { schema: { $ref: '#/components/schemas/ProgressLine' } } }
          }
        : { description: 'the result', content: { 'application/json': { schema: {} } } },
      ...errorResponses()
    }
  }
  if (spec.online === true) op.description = 'Needs the running daemon (the network).'
  if (spec.method === 'POST') {
    op.requestBody = {
      required: bodyRequired.length > 0,
      content: {
        'application/json': {
          schema: { type: 'object', additionalProperties: false, properties: bodyProperties, ...(bodyRequired.length > 0 ? { required: bodyRequired } : {}) }
        }
      }
    }
  }
  return op
}

function schemaOf (param: ParamSpec): Record<string, unknown> {
  switch (param.type) {
    case 'string': return { type: 'string' }
    case 'integer': return { type: 'integer' }
    case 'boolean': return { type: 'boolean' }
    case 'string[]': return { type: 'array', items: { type: 'string' } }
    case 'object[]': return { type: 'array', items: { type: 'object' } }
  }
}

function errorResponses (): Record<string, unknown> {
  const error = (description: string): unknown => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } })
  return {
    400: error('bad input: not JSON, unknown field, wrong type, missing field; a value that is not valid, or a name that matches several things'),
    401: error('missing or wrong token'),
    403: error('not allowed: a peer that has not approved this Core, or that this Core has not approved'),
    404: error('no such route, machine, point, peer, rule or seed; a path that does not exist'),
    409: error('refused: the request is valid but cannot be done now (the message says why)'),
    422: error('damaged data: a corrupt or missing block, a bad signature, bytes that do not decode (verify and repair help, asking again does not)'),
    500: error('this Core\'s machine failed it (a full or failing disk, a repository format it cannot read: kind operational), or an internal error (kind internal, message only)'),
    503: error('a peer cannot be reached, ended the exchange, failed on its side or does not serve the protocol; or the Core is stopping'),
    504: error('a peer did not answer in time')
  }
}

function tagOf (path: string): string {
  return path.split('/')[1] ?? 'core'
}

function dropUndefined (o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))
}
