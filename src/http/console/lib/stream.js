// The Core's event stream (server-sent events), and what the page shows of the connection: the
// banner, the dot in the navigation and body[data-connection].

import { $, h, renderInto } from './dom.js'
import { state } from './state.js'

let source = null
let reconnectTimer = null
let connected = false
let loggedOut = false
/** set by openStream: { onOpen (), onEvent (event) } */
let handlers

/**
 * Opens the stream from after the last event the page holds (so events missed while the Core was
 * away are replayed), and opens it again when the server closed it. `onOpen` runs on every
 * (re)connection, `onEvent` for every event.
 */
export function openStream (on) {
  handlers = on
  connect()
}

function connect () {
  clearTimeout(reconnectTimer)
  source?.close()
  const last = state.events.at(-1)?.seq
  source = new EventSource(`/api/v1/events/stream${last ? `?since=${last}` : ''}`)
  source.onopen = () => {
    setReachable(true)
    handlers.onOpen()
  }
  source.onmessage = (m) => {
    try { handlers.onEvent(JSON.parse(m.data)) } catch (err) { console.error(err) }
  }
  source.onerror = () => {
    // CONNECTING: the browser retries by itself; CLOSED: the server refused (e.g. 401): we retry
    setReachable(false)
    if (source.readyState === EventSource.CLOSED) {
      checkLogin()
      reconnectTimer = setTimeout(connect, 3000)
    }
  }
}

/** A request got through while the banner shows: the stream will follow, or is open already. */
export function requestWentThrough () {
  if (!connected && source?.readyState === EventSource.OPEN) setReachable(true)
}

async function checkLogin () {
  try {
    const res = await fetch('/api/v1/id', { credentials: 'same-origin' })
    if (res.status === 401) showLoggedOut()
  } catch {}
}

export function setReachable (ok) {
  if (loggedOut) return
  connected = ok
  const banner = $('#banner')
  banner.className = 'banner'
  banner.hidden = ok
  banner.textContent = ok ? '' : 'Core unreachable — retrying…'
  renderInto($('#connection'), h('span', { class: `dot ${ok ? 'green' : 'grey'}` }), ok ? ' live' : ' reconnecting…')
  document.body.dataset.connection = ok ? 'live' : 'down'
}

export function showLoggedOut () {
  loggedOut = true
  source?.close()
  const banner = $('#banner')
  banner.className = 'banner login'
  banner.hidden = false
  banner.replaceChildren('Not logged in to this Core. Open the ', h('code', {}, 'console'), ' link that ', h('code', {}, 'drcore start'), ' printed (it carries the token from ', h('code', {}, '<repo>/api-token'), '), then reload.')
  document.body.dataset.connection = 'login'
}
