import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { Hono } from 'hono'
import type { Context } from 'hono'
import { sameToken } from './token.ts'

/**
 * The console's files, served as they are (plain CSS and JavaScript modules: no build step): the
 * page, its stylesheet, and every module at its path under console/ (/app.js, /lib/…, /pages/…).
 */
const ASSETS: Record<string, string> = {
  '/': 'index.html',
  '/app.css': 'app.css',
  ...Object.fromEntries(readdirSync(new URL('./console/', import.meta.url), { recursive: true, encoding: 'utf8' }).filter(f => f.endsWith('.js')).map(f => [`/${f}`, f]))
}

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8'
}

/** Nothing but this origin: no inline script, no third parties, not framed. */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY'
}

/** How long the login cookie lasts; the token itself lasts until `<repo>/api-token` is deleted. */
const COOKIE_MAX_AGE_S = 30 * 24 * 3600

/**
 * The web console: its static page at `/`, and `/login?token=…` (the link `drcore start`
 * prints), which sets the token as an HttpOnly, SameSite=Strict cookie and redirects to `/`, so
 * the token leaves the address bar at once. The cookie is named per port (see `cookieName`). The page itself holds nothing secret; every piece of
 * data it shows comes from `/api/v1`, which needs the cookie.
 */
export function consoleRoutes (token: string): Hono {
  const app = new Hono()
  const files = new Map<string, { body: string, type: string, etag: string }>()
  for (const [route, file] of Object.entries(ASSETS)) {
    const body = readFileSync(new URL(`./console/${file}`, import.meta.url), 'utf8')
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`
    files.set(route, { body, type: TYPES[file.split('.').pop()!], etag })
  }
  for (const [route, asset] of files) {
    app.get(route, c => {
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.header(k, v)
      c.header('cache-control', 'no-cache')
      c.header('etag', asset.etag)
      if (c.req.header('if-none-match') === asset.etag) return c.body(null, 304)
      c.header('content-type', asset.type)
      return c.body(asset.body)
    })
  }
  app.get('/login', c => {
    const given = c.req.query('token') ?? ''
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.header(k, v)
    if (!sameToken(given, token)) {
      return c.html(page('Wrong or old token', 'This login link does not carry the token of this Core. Use the <code>console</code> link that <code>drcore start</code> printed, or read the token from <code>&lt;repo&gt;/api-token</code>.'), 401)
    }
    c.header('set-cookie', `${cookieName(c)}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${COOKIE_MAX_AGE_S}`)
    return c.redirect('/', 303)
  })
  app.post('/logout', c => {
    c.header('set-cookie', `${cookieName(c)}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`)
    return c.redirect('/', 303)
  })
  return app
}

/**
 * `drcore_token_<port>`: browsers send a host's cookies to every port, so each Core on a host
 * keeps its own cookie (the API accepts `drcore_token` and `drcore_token_<port>`).
 */
function cookieName (c: Context): string {
  const port = new URL(c.req.url).port
  return port === '' ? 'drcore_token' : `drcore_token_${port}`
}

function page (title: string, html: string): string {
  return `<!doctype html><html lang="en"><meta charset="utf-8"><title>drcore — ${title}</title><link rel="stylesheet" href="/app.css"><body class="plain"><main><h1>${title}</h1><p>${html}</p></main></body></html>`
}

/** For the server's 404 page outside the API. */
export function notFoundPage (c: Context): Response {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.header(k, v)
  return c.html(page('Not found', 'Nothing here. The console is at <a href="/">/</a>.'), 404)
}
