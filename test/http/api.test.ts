import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { OfflineCore } from '../../src/core/index.ts'
import { initRepository } from '../../src/repo/index.ts'
import { httpApp } from '../../src/http/server.ts'
import type { HttpApp } from '../../src/http/server.ts'
import { loadOrCreateToken, tokenPath } from '../../src/http/token.ts'
import { operations } from '../../src/api/operations.ts'
import { tempDir, removeDir } from '../support/dirs.ts'

/** The API answered in-process (Hono's `request`): the same routes the daemon serves, no socket. */
describe('the HTTP API refuses what it must and explains every error in JSON', () => {
  let work: string
  let core: OfflineCore
  let http: HttpApp
  let token: string
  const call = async (path: string, init: RequestInit & { auth?: string | null } = {}): Promise<Response> => {
    const headers = new Headers(init.headers)
    if (init.auth !== null) headers.set('authorization', `Bearer ${init.auth ?? token}`)
    return await http.app.request(path, { ...init, headers })
  }
  const post = async (path: string, body: string): Promise<Response> => await call(path, { method: 'POST', body, headers: { 'content-type': 'application/json' } })

  before(async () => {
    work = await tempDir()
    const repo = join(work, 'repo')
    await initRepository(repo, { name: 'hq', apiPort: 0, listen: ['/ip4/127.0.0.1/tcp/0'] })
    core = await OfflineCore.open(repo)
    token = await loadOrCreateToken(repo)
    http = httpApp(core, token)
    const tree = join(work, 'tree')
    await mkdir(tree)
    await writeFile(join(tree, 'a.txt'), 'hello\n')
    await core.run('backup', { machine: 'web01', volumes: [{ name: 'data', path: tree }] })
  })
  after(async () => {
    http.close()
    await core.close()
    await removeDir(work)
  })

  /** Every error is `{error: {name, message, exitCode}}` and nothing else: no stack, no internals. */
  async function assertJsonError (res: Response, status: number, message?: RegExp): Promise<{ name: string, message: string }> {
    assert.equal(res.status, status)
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
    const body = await res.json() as any
    assert.deepEqual(Object.keys(body), ['error'])
    assert.deepEqual(Object.keys(body.error).sort(), ['exitCode', 'kind', 'message', 'name'])
    assert.equal(typeof body.error.message, 'string')
    assert.doesNotMatch(body.error.message, /\n\s+at |\.ts:\d+/, 'no stack trace or source location')
    if (message != null) assert.match(body.error.message, message)
    return body.error
  }

  test('a request without the token, or with a wrong one, is refused with 401 on every route', async () => {
    for (const path of ['/api/v1/status', '/api/v1/machines', '/api/v1/openapi.json', '/api/v1/events/stream', '/api/v1/no/such/route', '/metrics']) {
      await assertJsonError(await call(path, { auth: null }), 401, /token/)
      await assertJsonError(await call(path, { auth: token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A') }), 401)
      await assertJsonError(await call(path, { auth: null, headers: { cookie: 'drcore_token=wrong' } }), 401)
    }
    await assertJsonError(await call('/api/v1/peers/allow', { auth: null, method: 'POST', body: '{}' }), 401)
    const short = await call('/api/v1/status', { auth: 'x' })
    assert.equal(short.status, 401, 'a token of another length is refused too')
  })

  test('the token is accepted as a bearer header or as the console cookie', async () => {
    const bearer = await call('/api/v1/machines')
    assert.equal(bearer.status, 200)
    assert.equal((await bearer.json() as any[])[0].machine, 'web01')
    const cookie = await call('/api/v1/machines', { auth: null, headers: { cookie: `theme=dark; drcore_token=${token}` } })
    assert.equal(cookie.status, 200)
  })

  test('a body that is not JSON, or not an object, is a 400', async () => {
    const e = await assertJsonError(await post('/api/v1/peers/allow', '{"peerId": '), 400, /not valid JSON/)
    assert.equal(e.name, 'UsageError')
    await assertJsonError(await post('/api/v1/peers/allow', '["a"]'), 400, /must be a JSON object/)
    await assertJsonError(await post('/api/v1/peers/allow', '"text"'), 400, /must be a JSON object/)
  })

  test('a field of the wrong type, an unknown field or a missing one is a 400 naming the field', async () => {
    await assertJsonError(await post('/api/v1/peers/allow', '{"peerId": 42}'), 400, /"peerId" must be a string/)
    await assertJsonError(await post('/api/v1/machines/web01/backup', '{"volumes": "not a list"}'), 400, /"volumes" must be a list of objects/)
    await assertJsonError(await post('/api/v1/machines/web01/backup', '{"volumes": [], "base": "yes"}'), 400, /"base" must be a boolean/)
    await assertJsonError(await post('/api/v1/peers/allow', '{"peerId": "x", "colour": "red"}'), 400, /unknown field "colour"/)
    await assertJsonError(await post('/api/v1/peers/allow', '{}'), 400, /missing field "peerId"/)
    await assertJsonError(await call('/api/v1/events?limit=many'), 400, /"limit" must be an integer/)
  })

  test('unknown routes and unknown things are 404 JSON; a value that is not valid is 400', async () => {
    const route = await assertJsonError(await call('/api/v1/no/such/route'), 404, /no such API route: GET \/api\/v1\/no\/such\/route/)
    assert.equal(route.name, 'NotFound')
    await assertJsonError(await call('/api/v1/machines/nothing/points'), 404, /nothing/)
    await assertJsonError(await post('/api/v1/peers/12D3KooWNotAPeerXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX/approve', '{}'), 404, /unknown peer/)
    await assertJsonError(await post('/api/v1/peers/allow', '{"peerId": "not-a-peer-id"}'), 400, /not a peer id/)
  })

  test('a progress operation with bad input is refused before its stream starts', async () => {
    await assertJsonError(await post('/api/v1/machines/web01/restore', '{"dest": 3}'), 400, /"dest" must be a string/)
  })

  test('status is the overview: machines with chains, repository size and deduplication', async () => {
    const res = await call('/api/v1/status')
    assert.equal(res.status, 200)
    const o = await res.json() as any
    assert.equal(o.core.name, 'hq')
    assert.equal(o.core.online, false)
    assert.equal(o.machines[0].machine, 'web01')
    assert.deepEqual(o.machines[0].points.map((p: any) => [p.seq, p.kind, p.complete]), [[1, 'base', true]])
    assert.equal(o.repository.logicalBytes, 6)
    assert.ok(o.repository.blocks > 0 && o.repository.storedBytes > 0)
    assert.equal(o.pendingRequests, 0)
    assert.deepEqual(o.rules, [])
  })
})

describe('the OpenAPI document', () => {
  let work: string
  let core: OfflineCore
  let http: HttpApp
  let doc: any
  before(async () => {
    work = await tempDir()
    await initRepository(join(work, 'repo'), { name: 'hq', apiPort: 0 })
    core = await OfflineCore.open(join(work, 'repo'))
    http = httpApp(core, 'x'.repeat(32))
    const res = await http.app.request('/api/v1/openapi.json', { headers: { authorization: `Bearer ${'x'.repeat(32)}` } })
    assert.equal(res.status, 200)
    doc = await res.json()
  })
  after(async () => {
    http.close()
    await core.close()
    await removeDir(work)
  })

  test('is a valid OpenAPI 3.1 document', () => {
    assert.deepEqual(openApiProblems(doc), [])
  })

  test('describes every operation with its method, path and typed parameters', () => {
    for (const [name, spec] of Object.entries(operations)) {
      const op = doc.paths[spec.path]?.[spec.method.toLowerCase()]
      assert.ok(op != null, `${name}: ${spec.method} ${spec.path} is in the document`)
      assert.equal(op.operationId, name)
      const params = spec.params as Record<string, { type: string, required?: boolean }>
      for (const [key, param] of Object.entries(params)) {
        const inPath = spec.path.includes(`{${key}}`)
        const schema = inPath || spec.method !== 'POST'
          ? op.parameters.find((p: any) => p.name === key)?.schema
          : op.requestBody.content['application/json'].schema.properties[key]
        assert.ok(schema != null, `${name}.${key} is described`)
        const expected = { string: 'string', integer: 'integer', boolean: 'boolean', 'string[]': 'array', 'object[]': 'array' }[param.type]
        assert.equal(schema.type, expected, `${name}.${key} is typed ${expected}`)
        if (!inPath && spec.method === 'POST' && param.required === true) {
          assert.ok(op.requestBody.content['application/json'].schema.required.includes(key), `${name}.${key} is required`)
        }
      }
      for (const status of ['400', '401', '404', '500']) {
        assert.equal(op.responses[status].content['application/json'].schema.$ref, '#/components/schemas/Error')
      }
      if ((spec as { progress?: boolean }).progress === true) assert.ok(op.responses['200'].content['application/x-ndjson'] != null)
    }
    assert.ok(doc.paths['/events/stream'].get.responses['200'].content['text/event-stream'] != null)
  })

  test('declares the bearer token and the cookie as the ways to authenticate', () => {
    assert.deepEqual(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', description: doc.components.securitySchemes.bearerAuth.description })
    assert.equal(doc.components.securitySchemes.cookieAuth.in, 'cookie')
    assert.equal(doc.components.securitySchemes.cookieAuth.name, 'drcore_token')
    assert.deepEqual(doc.security, [{ bearerAuth: [] }, { cookieAuth: [] }])
  })
})

test('the API token is created once with mode 0600 and kept across restarts', async () => {
  const dir = await tempDir()
  try {
    const first = await loadOrCreateToken(dir)
    assert.match(first, /^[A-Za-z0-9_-]{32}$/)
    assert.equal((await stat(tokenPath(dir))).mode & 0o777, 0o600)
    assert.equal(await loadOrCreateToken(dir), first)
    await writeFile(tokenPath(dir), 'short\n')
    await assert.rejects(loadOrCreateToken(dir), /does not hold a valid API token/)
  } finally {
    await removeDir(dir)
  }
})

/**
 * A structural check of an OpenAPI 3.1 document: the parts drcore's generator writes, checked
 * against the specification's rules (required fields, parameter locations, path templating,
 * unique operation ids, resolvable $refs, valid JSON Schema types).
 */
function openApiProblems (doc: any): string[] {
  const problems: string[] = []
  const fail = (msg: string): void => { problems.push(msg) }
  if (typeof doc.openapi !== 'string' || !/^3\.1\.\d+$/.test(doc.openapi)) fail(`openapi must be 3.1.x, is ${doc.openapi}`)
  if (typeof doc.info?.title !== 'string' || typeof doc.info?.version !== 'string') fail('info needs title and version')
  if (doc.paths == null || typeof doc.paths !== 'object') fail('paths must be an object')
  const schemes = doc.components?.securitySchemes ?? {}
  for (const [name, scheme] of Object.entries<any>(schemes)) {
    if (!['apiKey', 'http', 'oauth2', 'openIdConnect', 'mutualTLS'].includes(scheme.type)) fail(`securityScheme ${name}: bad type`)
    if (scheme.type === 'apiKey' && (!['query', 'header', 'cookie'].includes(scheme.in) || typeof scheme.name !== 'string')) fail(`securityScheme ${name}: apiKey needs in and name`)
    if (scheme.type === 'http' && typeof scheme.scheme !== 'string') fail(`securityScheme ${name}: http needs scheme`)
  }
  for (const requirement of doc.security ?? []) {
    for (const name of Object.keys(requirement)) if (schemes[name] == null) fail(`security names unknown scheme ${name}`)
  }
  const resolve = (ref: string): unknown => ref.replace(/^#\//, '').split('/').reduce<any>((o, k) => o?.[k], doc)
  const checkSchema = (schema: any, where: string): void => {
    if (schema == null || typeof schema !== 'object') return fail(`${where}: schema must be an object`)
    if (schema.$ref != null) {
      if (resolve(schema.$ref) == null) fail(`${where}: unresolvable $ref ${schema.$ref}`)
      return
    }
    const types = ['string', 'number', 'integer', 'boolean', 'array', 'object', 'null']
    if (schema.type != null && !types.includes(schema.type)) fail(`${where}: unknown type ${schema.type}`)
    if (schema.type === 'array' && schema.items == null) fail(`${where}: array without items`)
    for (const [k, sub] of Object.entries<any>(schema.properties ?? {})) checkSchema(sub, `${where}.${k}`)
    if (schema.required != null && !schema.required.every((k: string) => schema.properties?.[k] != null)) fail(`${where}: required names a missing property`)
    for (const sub of schema.oneOf ?? []) checkSchema(sub, `${where} oneOf`)
    if (schema.items != null) checkSchema(schema.items, `${where}[]`)
  }
  for (const [name, schema] of Object.entries<any>(doc.components?.schemas ?? {})) checkSchema(schema, `components.schemas.${name}`)
  const ids = new Set<string>()
  for (const [path, item] of Object.entries<any>(doc.paths ?? {})) {
    if (!path.startsWith('/')) fail(`path ${path} must start with /`)
    const templated = new Set([...path.matchAll(/\{(\w+)\}/g)].map(m => m[1]))
    for (const [method, op] of Object.entries<any>(item)) {
      const where = `${method.toUpperCase()} ${path}`
      if (!['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'].includes(method)) { fail(`${where}: not an HTTP method`); continue }
      if (typeof op.operationId !== 'string') fail(`${where}: operationId missing`)
      else if (ids.has(op.operationId)) fail(`${where}: duplicate operationId ${op.operationId}`)
      else ids.add(op.operationId)
      if (op.responses == null || Object.keys(op.responses).length === 0) fail(`${where}: no responses`)
      for (const [status, response] of Object.entries<any>(op.responses ?? {})) {
        if (!/^([1-5]\d\d|[1-5]XX|default)$/.test(status)) fail(`${where}: bad status ${status}`)
        if (typeof response.description !== 'string') fail(`${where} ${status}: description is required`)
        for (const [type, media] of Object.entries<any>(response.content ?? {})) if (media.schema != null) checkSchema(media.schema, `${where} ${status} ${type}`)
      }
      const declared = new Set<string>()
      for (const p of op.parameters ?? []) {
        if (typeof p.name !== 'string' || !['query', 'header', 'path', 'cookie'].includes(p.in)) fail(`${where}: parameter needs name and in`)
        if (p.in === 'path') {
          declared.add(p.name)
          if (p.required !== true) fail(`${where}: path parameter ${p.name} must be required`)
          if (!templated.has(p.name)) fail(`${where}: path parameter ${p.name} is not in the path`)
        }
        if (p.schema == null && p.content == null) fail(`${where}: parameter ${p.name} needs a schema`)
        else if (p.schema != null) checkSchema(p.schema, `${where} ${p.name}`)
      }
      for (const name of templated) if (!declared.has(name)) fail(`${where}: {${name}} has no path parameter`)
      if (op.requestBody != null) {
        if (op.requestBody.content == null) fail(`${where}: requestBody needs content`)
        for (const media of Object.values<any>(op.requestBody.content ?? {})) checkSchema(media.schema, `${where} body`)
      }
    }
  }
  return problems
}
