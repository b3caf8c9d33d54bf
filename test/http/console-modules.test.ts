import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { consoleRoutes } from '../../src/http/console.ts'

/**
 * The console is plain JavaScript modules that the browser loads one by one, as the Core serves
 * them (no build step, no bundle): starting from the page's one script, every module it imports
 * must be served, as JavaScript, under the same Content-Security-Policy, from this origin.
 */
describe('the console modules', { timeout: 30_000 }, () => {
  const app = consoleRoutes('t'.repeat(32))

  /** Each module the page loads, from /app.js on, with the modules it imports (as URL paths). */
  async function moduleGraph (): Promise<Map<string, string[]>> {
    const graph = new Map<string, string[]>()
    const queue = ['/app.js']
    while (queue.length > 0) {
      const path = queue.shift()!
      if (graph.has(path)) continue
      const res = await app.request(path)
      assert.equal(res.status, 200, `${path} is served`)
      assert.match(res.headers.get('content-type') ?? '', /^text\/javascript/, `${path} is served as JavaScript`)
      assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/, `${path} carries the page's CSP`)
      const source = await res.text()
      const specifiers = [...source.matchAll(/^\s*(?:import|export)\b[^'"]*?\bfrom\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm)].map(m => m[1] ?? m[2])
      for (const specifier of specifiers) {
        assert.match(specifier, /^\.\.?\//, `${path} imports ${specifier}: only relative paths load without a build step and stay on this origin`)
        assert.match(specifier, /\.js$/, `${path} imports ${specifier}: a browser needs the file name, extension included`)
      }
      const imports = specifiers.map(s => new URL(s, `http://core${path}`).pathname)
      graph.set(path, imports)
      queue.push(...imports)
    }
    return graph
  }

  test('every module the page imports is served as JavaScript under the strict CSP, one per page', async () => {
    const html = await (await app.request('/')).text()
    assert.deepEqual([...html.matchAll(/<script\b[^>]*>/g)].map(m => m[0]), ['<script type="module" src="/app.js">'], 'one module script, loaded from the Core')
    const graph = await moduleGraph()
    for (const page of ['overview', 'peers', 'replication', 'topology', 'seeds', 'events']) {
      assert.ok(graph.get('/app.js')!.includes(`/pages/${page}.js`), `the ${page} page is a module of its own`)
    }
    for (const shared of ['api', 'stream', 'format', 'router']) assert.ok(graph.has(`/lib/${shared}.js`), `the shared ${shared} module is loaded`)
  })

  test('the modules import each other without a cycle, and the shared ones import no page', async () => {
    const graph = await moduleGraph()
    for (const [path, imports] of graph) {
      if (path.startsWith('/lib/')) assert.deepEqual(imports.filter(i => i.startsWith('/pages/')), [], `${path} imports no page`)
    }
    const done = new Set<string>()
    const visit = (path: string, trail: string[]): void => {
      if (trail.includes(path)) assert.fail(`import cycle: ${[...trail, path].join(' → ')}`)
      if (done.has(path)) return
      for (const next of graph.get(path) ?? []) visit(next, [...trail, path])
      done.add(path)
    }
    visit('/app.js', [])
    assert.equal(done.size, graph.size)
  })

  test('a path outside the console is not served', async () => {
    for (const path of ['/lib/nothing.js', '/../console.ts', '/lib/../../console.ts', '/app.ts']) {
      assert.equal((await app.request(path)).status, 404, path)
    }
  })
})
