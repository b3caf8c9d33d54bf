// The client of the Core's JSON API (/api/v1, authenticated by the login cookie).

import { requestWentThrough, setReachable, showLoggedOut } from './stream.js'

export class ApiError extends Error {}

/** Calls the API. Progress operations answer NDJSON: `onProgress` gets each progress line. */
export async function api (method, path, body, onProgress) {
  let res
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin'
    })
  } catch {
    setReachable(false)
    throw new ApiError('the Core is unreachable')
  }
  requestWentThrough()
  if (res.status === 401) {
    showLoggedOut()
    throw new ApiError('not logged in')
  }
  const type = res.headers.get('content-type') ?? ''
  if (type.includes('ndjson') && res.body) {
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    let buffered = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      buffered += value
      let nl
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim()
        buffered = buffered.slice(nl + 1)
        if (!line) continue
        const msg = JSON.parse(line)
        if (msg.progress) onProgress?.(msg.progress)
        else if (msg.error) throw new ApiError(msg.error.message)
        else if ('result' in msg) return msg.result
      }
    }
    throw new ApiError('the Core closed the connection before the operation finished')
  }
  const text = await res.text()
  let data = null
  try { data = text ? JSON.parse(text) : null } catch { throw new ApiError(`HTTP ${res.status}`) }
  if (!res.ok) throw new ApiError(data?.error?.message ?? `HTTP ${res.status}`)
  return data
}

/** a path segment */
export const enc = encodeURIComponent
