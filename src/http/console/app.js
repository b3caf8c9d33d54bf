// drcore web console: plain modern JavaScript, no build step, no framework.
// Data: GET /api/v1/status (the overview) and /api/v1/events; live updates from the server-sent
// event stream /api/v1/events/stream. The drcore_token cookie (set by /login) authenticates.

const PAGES = ['overview', 'peers', 'replication', 'topology', 'seeds', 'events']
/** events after which the overview is refetched */
const REFRESH_ON = /^(backup|replication|pairing|peer|seed|points|verify|fetch|restore|core)\./
const MAX_EVENTS = 500

const state = {
  overview: null,
  events: [],
  /** rule key -> { state: running|indeterminate|done|failed, bytesSent, total, rate, pointIndex, points, message, samples } */
  jobs: new Map(),
  selectedPoint: null,
  connected: false,
  loggedOut: false
}

// ---- small DOM helpers -------------------------------------------------------------------------

function h (tag, props, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v == null || v === false) continue
    if (k === 'class') el.className = v
    else if (k === 'text') el.textContent = v
    // through CSSOM: the page's Content-Security-Policy forbids inline style attributes
    else if (k === 'style') Object.assign(el.style, v)
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v)
    else if (v === true) el.setAttribute(k, '')
    else el.setAttribute(k, String(v))
  }
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue
    el.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
  return el
}

const svgNS = 'http://www.w3.org/2000/svg'
function s (tag, attrs, ...children) {
  const el = document.createElementNS(svgNS, tag)
  for (const [k, v] of Object.entries(attrs ?? {})) if (v != null) el.setAttribute(k, String(v))
  for (const c of children.flat(Infinity)) if (c != null) el.append(c instanceof Node ? c : document.createTextNode(String(c)))
  return el
}

const $ = (sel) => document.querySelector(sel)

/**
 * Replaces a container's content, keeping what the operator was doing: the focused control
 * (by id or data-key) and the values typed into inputs that carry an id or data-key.
 */
function renderInto (container, ...nodes) {
  const keyOf = (el) => el?.id || el?.dataset?.key
  const active = document.activeElement
  const activeKey = container.contains(active) ? keyOf(active) : null
  const values = new Map()
  for (const input of container.querySelectorAll('input, select')) {
    const k = keyOf(input)
    if (k) values.set(k, input.type === 'checkbox' ? input.checked : input.value)
  }
  container.replaceChildren(...nodes.flat())
  for (const input of container.querySelectorAll('input, select')) {
    const k = keyOf(input)
    if (k && values.has(k)) {
      if (input.type === 'checkbox') input.checked = values.get(k)
      else input.value = values.get(k)
    }
  }
  if (activeKey) {
    const again = [...container.querySelectorAll('[id], [data-key]')].find(el => keyOf(el) === activeKey)
    again?.focus({ preventScroll: true })
  }
}

// ---- formatting --------------------------------------------------------------------------------

function bytes (n) {
  if (n == null || Number.isNaN(n)) return '–'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`
}

function duration (seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return '–'
  seconds = Math.max(0, Math.round(seconds))
  if (seconds < 60) return `${seconds} s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor(seconds % 3600 / 60)} min`
  return `${Math.floor(seconds / 86400)} d ${Math.floor(seconds % 86400 / 3600)} h`
}

function ago (iso) {
  if (!iso) return '–'
  const s = (Date.now() - Date.parse(iso)) / 1000
  if (s < 5) return 'just now'
  return `${duration(s)} ago`
}

function when (iso) {
  if (!iso) return '–'
  const d = new Date(iso)
  const pad = (n) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

function short (id) {
  if (!id) return '–'
  return id.length > 16 ? `${id.slice(0, 6)}…${id.slice(-6)}` : id
}

function plural (n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/** Peer ids and CIDs in messages, shortened; the full text stays in the row's title. */
function shortenIds (text) {
  return text.replace(/\b(12D3KooW[1-9A-HJ-NP-Za-km-z]{44}|baf[a-z2-7]{50,})\b/g, short)
}

function ratio (r) {
  return r == null ? '–' : `${r.toFixed(r < 10 ? 2 : 1)}×`
}

function peerName (peerId) {
  if (!peerId) return '–'
  const o = state.overview
  if (o?.core.peerId === peerId) return `${o.core.name} (this Core)`
  const p = o?.peers.find(x => x.peerId === peerId)
  return p?.name ?? short(peerId)
}

/** a rule's key in data attributes (no NUL: CSS.escape would turn it into U+FFFD) */
const ruleKey = (machine, to) => `${machine}→${to}`
const HEALTH_COLOUR = { connected: 'green', paused: 'yellow', error: 'red', offline: 'grey' }
/** the same colours for SVG presentation attributes, which cannot read CSS variables */
const COLOUR = { green: '#1f8a3b', yellow: '#d99a00', red: '#c62828', grey: '#8a94a3', blue: '#2563eb', self: '#1e293b', unknown: '#cbd5e1' }

// ---- API ---------------------------------------------------------------------------------------

class ApiError extends Error {}

/** Calls the API. Progress operations answer NDJSON: `onProgress` gets each progress line. */
async function api (method, path, body, onProgress) {
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
  // a request got through while the banner shows: the stream will follow, or is open already
  if (!state.connected && source?.readyState === EventSource.OPEN) setReachable(true)
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

const enc = encodeURIComponent

/** Runs an action from a button: disables it meanwhile, reports the outcome. */
async function act (button, label, fn) {
  if (button) button.disabled = true
  try {
    const result = await fn()
    toast(label)
    scheduleRefresh(0)
    return result
  } catch (err) {
    toast(err.message, true)
  } finally {
    if (button?.isConnected) button.disabled = false
  }
}

function toast (message, error = false) {
  const el = h('div', { class: error ? 'error' : '' }, message)
  $('#toast').append(el)
  setTimeout(() => el.remove(), error ? 8000 : 4000)
}

// ---- connection --------------------------------------------------------------------------------

let source = null
let reconnectTimer = null

function connect () {
  clearTimeout(reconnectTimer)
  source?.close()
  const last = state.events.at(-1)?.seq
  source = new EventSource(`/api/v1/events/stream${last ? `?since=${last}` : ''}`)
  source.onopen = () => {
    setReachable(true)
    scheduleRefresh(0)
  }
  source.onmessage = (m) => {
    try { onEvent(JSON.parse(m.data)) } catch (err) { console.error(err) }
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

async function checkLogin () {
  try {
    const res = await fetch('/api/v1/id', { credentials: 'same-origin' })
    if (res.status === 401) showLoggedOut()
  } catch {}
}

function setReachable (ok) {
  if (state.loggedOut) return
  state.connected = ok
  const banner = $('#banner')
  banner.className = 'banner'
  banner.hidden = ok
  banner.textContent = ok ? '' : 'Core unreachable — retrying…'
  renderInto($('#connection'), h('span', { class: `dot ${ok ? 'green' : 'grey'}` }), ok ? ' live' : ' reconnecting…')
  document.body.dataset.connection = ok ? 'live' : 'down'
}

function showLoggedOut () {
  state.loggedOut = true
  source?.close()
  const banner = $('#banner')
  banner.className = 'banner login'
  banner.hidden = false
  banner.replaceChildren('Not logged in to this Core. Open the ', h('code', {}, 'console'), ' link that ', h('code', {}, 'drcore start'), ' printed (it carries the token from ', h('code', {}, '<repo>/api-token'), '), then reload.')
  document.body.dataset.connection = 'login'
}

// ---- data --------------------------------------------------------------------------------------

let refreshTimer = null
let refreshing = false
let refreshAgain = false

function scheduleRefresh (delay = 200) {
  clearTimeout(refreshTimer)
  refreshTimer = setTimeout(refresh, delay)
}

async function refresh () {
  if (refreshing) { refreshAgain = true; return }
  refreshing = true
  try {
    const [overview, events] = await Promise.all([
      api('GET', '/status'),
      state.events.length === 0 ? api('GET', '/events?limit=200') : Promise.resolve(null)
    ])
    if (events) mergeEvents(events, false)
    state.overview = overview
    for (const rule of overview.rules) {
      const running = rule.job ?? rule.progress
      // a page opened mid-job starts from the rule's snapshot; live reports take over from there
      if (running && rule.state === 'running' && !state.jobs.get(ruleKey(rule.machine, rule.to))?.live) updateJob(rule.machine, rule.to, { ...running, running: true })
    }
    render()
  } catch (err) {
    if (!(err instanceof ApiError)) console.error(err)
  } finally {
    refreshing = false
    if (refreshAgain) { refreshAgain = false; scheduleRefresh(0) }
  }
}

function mergeEvents (list, fresh) {
  const seen = new Set(state.events.map(e => e.seq))
  for (const e of list) if (!seen.has(e.seq)) state.events.push(fresh ? { ...e, fresh: true } : e)
  state.events.sort((a, b) => a.seq - b.seq)
  if (state.events.length > MAX_EVENTS) state.events.splice(0, state.events.length - MAX_EVENTS)
}

function onEvent (e) {
  const d = e.data ?? {}
  if (e.type === 'replication.progress') {
    updateJob(d.machine, d.to, { ...d, running: !d.done })
    const job = state.jobs.get(ruleKey(d.machine, d.to))
    if (job) job.live = true
    return
  }
  if (e.type === 'replication.started') updateJob(d.machine, d.to, { running: true, bytesSent: 0, reset: true })
  if (e.type === 'replication.finished') updateJob(d.machine, d.to, { finished: true, bytesSent: d.bytes ?? d.bytesSent, seconds: d.seconds })
  if (e.type === 'replication.failed') updateJob(d.machine, d.to, { failed: true, message: d.error })
  if (e.seq > 0) {
    mergeEvents([e], true)
    renderEvents()
  }
  if (REFRESH_ON.test(e.type)) scheduleRefresh()
}

/**
 * Folds a progress report, start, end or failure of a job into its progress bar. Reports carry
 * the job's bytes so far and the size of the current point (`bytesToSend`), so the bar shows the
 * current point ("point 2 of 5"): its bytes are those sent since the previous point ended.
 */
function updateJob (machine, to, p) {
  if (!machine || !to) return
  const key = ruleKey(machine, to)
  const now = Date.now()
  let job = state.jobs.get(key)
  if (!job || p.reset || (p.running && (job.state === 'done' || job.state === 'failed'))) {
    job = { state: 'indeterminate', bytesSent: 0, point: null, pointBase: 0, done: 0, total: null, rate: null, samples: [], live: false }
  }
  if (p.point != null && p.point !== job.point) {
    job.point = p.point
    job.pointBase = job.bytesSent
  }
  if (p.points != null) { job.points = p.points; job.pointIndex = p.pointIndex }
  if (p.bytesSent != null) job.bytesSent = p.bytesSent
  if (p.pointBytesSent != null) job.done = p.pointBytesSent
  else if (p.bytesSent != null) job.done = p.bytesSent - job.pointBase
  if (p.bytesToSend != null) job.total = p.bytesToSend
  if (p.running) {
    job.samples.push([now, job.bytesSent])
    job.samples = job.samples.filter(([t]) => now - t < 5000)
    const [t0, b0] = job.samples[0]
    // the rate over the last seconds when we have them (the Core's figure averages the whole job)
    if (now - t0 >= 1000) job.rate = (job.bytesSent - b0) / ((now - t0) / 1000)
    else if (p.rate != null) job.rate = p.rate
    job.state = job.total ? 'running' : 'indeterminate'
  }
  if (p.finished) { job.state = 'done'; job.seconds = p.seconds }
  if (p.failed) { job.state = 'failed'; job.message = p.message }
  state.jobs.set(key, job)
  const el = document.querySelector(`.progress[data-rule="${CSS.escape(key)}"]`)
  if (el) el.replaceWith(progressBar(machine, to))
  else renderReplication()
}

function progressBar (machine, to) {
  const key = ruleKey(machine, to)
  const job = state.jobs.get(key)
  if (!job) return h('div', { class: 'progress', 'data-rule': key, 'data-state': 'none' }, h('span', { class: 'muted' }, '–'))
  const fraction = job.state === 'done' ? 1 : job.total ? Math.min(1, job.done / job.total) : null
  let text
  if (job.state === 'done') text = `done — ${bytes(job.bytesSent)} sent${job.seconds != null ? ` in ${duration(job.seconds)}` : ''}`
  else if (job.state === 'failed') text = `failed: ${job.message ?? 'see Events'}`
  else {
    const parts = [`${bytes(job.bytesSent)} sent`]
    if (job.total) parts[0] = `${bytes(job.done)} of ${bytes(job.total)}`
    if (job.points > 1) parts.push(`point ${job.pointIndex} of ${job.points}`)
    if (job.rate != null) parts.push(`${bytes(job.rate)}/s`)
    if (job.total && job.rate > 0) parts.push(`${duration((job.total - job.done) / job.rate)} left${job.pointIndex < job.points ? ' on this point' : ''}`)
    text = parts.join(' · ')
  }
  return h('div', {
    class: 'progress',
    'data-rule': key,
    'data-state': job.state,
    role: 'progressbar',
    'aria-label': `replication of ${machine} to ${peerName(to)}`,
    'aria-valuemin': 0,
    'aria-valuemax': 100,
    'aria-valuenow': fraction == null ? null : Math.round(fraction * 100),
    'aria-valuetext': text
  },
  h('div', { class: 'bar' }, h('span', { style: fraction == null ? null : { width: `${(fraction * 100).toFixed(1)}%` } })),
  h('div', { class: 'text' }, text))
}

// ---- pages -------------------------------------------------------------------------------------

function render () {
  const o = state.overview
  if (!o) return
  document.title = `drcore — ${o.core.name}`
  $('#core-name').textContent = o.core.name
  const pending = $('#nav-pending')
  pending.hidden = o.pendingRequests === 0
  pending.textContent = o.pendingRequests
  pending.setAttribute('aria-label', `${o.pendingRequests} pending requests`)
  const running = o.rules.filter(r => r.state === 'running').length
  const nav = $('#nav-running')
  nav.hidden = running === 0
  nav.className = 'badge blue'
  nav.textContent = running
  nav.setAttribute('aria-label', `${running} jobs running`)
  renderOverview()
  renderPeers()
  renderReplication()
  renderTopology()
  renderSeeds()
  renderEvents()
}

function card (label, value, note, href) {
  const body = [h('div', { class: 'label' }, label), h('div', { class: 'value' }, value), note ? h('div', { class: 'note' }, note) : null]
  return h('div', { class: 'card' }, href ? h('a', { href }, body) : body)
}

function renderOverview () {
  const o = state.overview
  const r = o.repository
  const orphans = o.machines.reduce((n, m) => n + m.orphans, 0)
  const points = o.machines.reduce((n, m) => n + m.pointCount, 0)
  const connected = o.peers.filter(p => p.health === 'connected').length
  const failing = o.rules.filter(x => x.state === 'error').length
  renderInto($('#overview-cards'),
    card('Repository', bytes(r.storedBytes), `${bytes(r.logicalBytes)} protected · ${r.blocks} blocks`),
    card('Deduplication', ratio(r.dedupRatio), `compression ${ratio(r.compressionRatio)} · total ${ratio(r.reductionRatio)}`),
    card('Recovery points', String(points), orphans > 0 ? `${orphans} orphan${orphans > 1 ? 's' : ''}` : 'all complete'),
    card('Peers', `${connected} / ${o.peers.length}`, 'connected', '#peers'),
    card('Pending requests', String(o.pendingRequests), o.pendingRequests ? 'waiting for a decision' : 'none', '#peers'),
    card('Replication rules', String(o.rules.length), failing ? `${failing} failing` : `${o.rules.filter(x => x.state === 'running').length} running`, '#replication'))

  const machines = o.machines.map(m => {
    const origin = m.direction === 'local' ? 'this Core' : (m.originName ?? short(m.origin))
    const chainLabel = `${m.machine}: ${m.pointCount} points, ${m.complete} complete, ${m.orphans} orphans`
    const shown = m.points
    const boxes = []
    if (m.pointCount > shown.length) boxes.push(h('span', { class: 'more' }, `${m.pointCount - shown.length} older…`))
    shown.forEach((p, i) => {
      if (p.kind === 'base' && i > 0) boxes.push(h('span', { class: 'gap', 'aria-hidden': 'true' }))
      const selected = state.selectedPoint === p.point
      boxes.push(h('button', {
        type: 'button',
        class: `pt ${p.kind} ${p.complete ? 'complete' : 'orphan'}`,
        'data-point': p.point,
        'data-state': p.complete ? 'complete' : 'orphan',
        'data-kind': p.kind,
        'data-key': `pt-${m.tenant}-${m.origin}-${p.point}`,
        tabindex: i === shown.length - 1 ? 0 : -1,
        'aria-pressed': selected ? 'true' : 'false',
        'aria-label': `${p.kind === 'base' ? 'base image' : 'incremental'} #${p.seq}, ${when(p.createdAt)}, ${p.complete ? 'complete' : `orphan, ${p.missing} blocks missing`}`,
        title: `#${p.seq} ${p.kind} · ${when(p.createdAt)} · ${bytes(p.bytes)} · ${p.complete ? 'complete' : 'orphan'}`,
        onclick: () => selectPoint(m, p),
        onkeydown: timelineKeys
      }))
    })
    return h('article', { class: 'machine', 'data-machine': m.machine, 'data-tenant': m.tenant },
      h('header', {},
        h('h3', {}, m.machine),
        h('div', { class: 'facts' },
          h('span', {}, m.direction === 'local' ? 'backed up here' : `replicated from ${peerName(m.receivedFrom ?? m.origin)}`),
          h('span', {}, `origin ${origin}`),
          m.tenant ? h('span', {}, `tenant ${m.tenant}`) : null,
          m.cluster ? h('span', {}, `cluster ${m.cluster}`) : null,
          h('span', {}, plural(m.pointCount, 'point')),
          h('span', { class: m.orphans ? 'orphans' : '' }, `${m.complete} complete${m.orphans ? `, ${m.orphans} orphan${m.orphans > 1 ? 's' : ''}` : ''}`),
          h('span', {}, `${bytes(m.logicalBytes)} protected`),
          h('span', {}, `latest ${ago(shown.at(-1)?.createdAt)}`))),
      h('div', { class: 'timeline', role: 'group', 'aria-label': chainLabel }, boxes))
  })
  renderInto($('#machines'), machines.length ? machines : h('p', { class: 'empty' }, 'No recovery points yet. Take one with ', h('code', {}, 'drcore backup <machine> <path>'), '.'))
  if (state.selectedPoint) {
    const m = o.machines.find(x => x.points.some(p => p.point === state.selectedPoint))
    const p = m?.points.find(x => x.point === state.selectedPoint)
    if (p) showPoint(m, p)
  }
}

/** Arrow keys move along a timeline (one tab stop per timeline). */
function timelineKeys (ev) {
  const boxes = [...ev.currentTarget.parentElement.querySelectorAll('button.pt')]
  const i = boxes.indexOf(ev.currentTarget)
  const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: boxes.length - 1 }[ev.key]
  if (next == null || !boxes[next]) return
  ev.preventDefault()
  boxes.forEach(b => { b.tabIndex = -1 })
  boxes[next].tabIndex = 0
  boxes[next].focus()
}

function selectPoint (m, p) {
  state.selectedPoint = state.selectedPoint === p.point ? null : p.point
  for (const b of document.querySelectorAll('button.pt')) b.setAttribute('aria-pressed', b.dataset.point === state.selectedPoint ? 'true' : 'false')
  if (state.selectedPoint) showPoint(m, p)
  else $('#point-detail').replaceChildren()
}

function showPoint (m, p) {
  const row = (k, v) => [h('span', { class: 'muted' }, k), h('span', {}, v)]
  renderInto($('#point-detail'), h('div', { class: 'box' },
    row('Point', h('code', { class: 'copyable' }, p.point)),
    row('Machine', `${m.machine} #${p.seq} (${p.kind === 'base' ? 'base image' : 'incremental'})`),
    row('Taken', `${when(p.createdAt)} (${ago(p.createdAt)})`),
    row('State', (p.complete ? 'complete: volume- and file-level restore' : `orphan: ${p.missing} blocks missing; file-level restore only until they arrive`) +
      (p.skipped > 0 ? `; partial: ${p.skipped} entries were not stored (see the backup's skipped list)` : '')),
    row('Data', `${p.files} files, ${bytes(p.bytes)}`),
    row('Parent', p.parent ? h('code', {}, short(p.parent)) : '– (starts a chain)'),
    row('Restore', h('code', { class: 'copyable' }, `drcore restore ${m.machine} <dest> --point ${p.point}`))))
}

function renderPeers () {
  const o = state.overview
  const row = (k, v) => [h('span', { class: 'muted' }, k), h('span', {}, v)]
  renderInto($('#self-card'), h('div', { class: 'box self' },
    row('This Core', `${o.core.name}`),
    row('Peer id', h('code', { class: 'copyable' }, o.core.peerId)),
    row('Addresses', o.core.addresses.length
      ? h('div', {}, o.core.addresses.map(a => h('div', {}, h('code', { class: 'copyable' }, a))))
      : 'network not running')))

  const requests = o.peers.filter(p => p.state === 'pending')
  // an approval may put a Core into an existing tenant (a customer with several sites)
  const tenants = [...new Set([...o.peers.map(p => p.tenant), ...o.machines.map(m => m.tenant)].filter(Boolean))].sort()
  $('#tenant-names').replaceChildren(...tenants.map(t => h('option', { value: t })))
  $('#requests-count').textContent = `(${requests.length})`
  renderInto($('#requests'), requests.length === 0
    ? h('p', { class: 'empty' }, 'No pairing requests are waiting.')
    : h('table', { 'aria-labelledby': 'h-requests' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Core'), h('th', {}, 'Peer id'), h('th', {}, 'Asked'), h('th', {}, 'Tenant for its points'), h('th', {}, 'Decision'))),
      h('tbody', {}, requests.map(p => {
        const tenantId = `tenant-${p.peerId}`
        const tenant = h('input', { id: tenantId, value: p.tenant ?? p.name ?? p.announcedName ?? '', placeholder: 'tenant name', list: 'tenant-names', 'aria-label': `tenant for ${p.name ?? p.peerId}`, size: 16 })
        return h('tr', { 'data-peer': p.peerId },
          h('td', {}, h('strong', {}, p.name ?? p.announcedName ?? 'unnamed'), p.announcedName && p.announcedName !== p.name ? h('div', { class: 'muted' }, `calls itself ${p.announcedName}`) : null),
          h('td', {}, h('code', { title: p.peerId }, short(p.peerId))),
          h('td', { class: 'when' }, ago(p.requestedAt)),
          h('td', {}, tenant),
          h('td', {}, h('div', { class: 'actions' },
            h('button', { class: 'primary', type: 'button', onclick: (ev) => act(ev.currentTarget, `approved ${p.name ?? short(p.peerId)}`, () => api('POST', `/peers/${enc(p.peerId)}/approve`, tenant.value.trim() ? { tenant: tenant.value.trim() } : {})) }, 'Approve'),
            h('button', { class: 'danger', type: 'button', onclick: (ev) => act(ev.currentTarget, `denied ${p.name ?? short(p.peerId)}`, () => api('POST', `/peers/${enc(p.peerId)}/deny`, {})) }, 'Deny'),
            h('button', { type: 'button', onclick: (ev) => act(ev.currentTarget, `ignored ${p.name ?? short(p.peerId)}`, () => api('POST', `/peers/${enc(p.peerId)}/ignore`, {})) }, 'Ignore'))))
      }))))

  const peers = o.peers.filter(p => p.state !== 'pending')
  renderInto($('#peer-list'), peers.length === 0
    ? h('p', { class: 'empty' }, 'No peers yet. Add one below, or give the other Core this Core\'s address.')
    : h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'Status'), h('th', {}, 'Core'), h('th', {}, 'Peer id'), h('th', {}, 'Relationship'), h('th', {}, 'Tenant'), h('th', {}, 'Address'), h('th', {}, ''))),
      h('tbody', {}, peers.map(p => h('tr', { 'data-peer': p.peerId, 'data-health': p.health },
        h('td', { class: 'health' }, h('span', { class: `dot ${HEALTH_COLOUR[p.health]}`, 'aria-hidden': 'true' }), h('span', {}, p.healthReason)),
        h('td', {}, h('strong', {}, p.name ?? 'unnamed')),
        h('td', {}, h('code', { title: p.peerId }, short(p.peerId))),
        h('td', {}, relationship(p)),
        h('td', {}, p.tenant ?? '–'),
        h('td', {}, p.addresses[0] ? h('code', {}, p.addresses[0]) : '–'),
        h('td', {}, h('button', {
          class: 'danger',
          type: 'button',
          onclick: (ev) => { if (confirm(`Forget peer ${p.name ?? p.peerId}? Its points stay here.`)) act(ev.currentTarget, `removed ${p.name ?? short(p.peerId)}`, () => api('DELETE', `/peers/${enc(p.peerId)}`)) }
        }, 'Remove')))))))
}

function relationship (p) {
  if (p.state === 'requested') return 'we asked; waiting for its answer'
  if (p.state === 'denied') return p.healthReason
  const ways = []
  if (p.accepts) ways.push('sends to us')
  if (p.canSendTo) ways.push('we send to it')
  return ways.join(' · ') || '–'
}

function renderReplication () {
  const o = state.overview
  if (!o) return
  const rules = o.rules
  renderInto($('#rules'), rules.length === 0
    ? h('p', { class: 'empty' }, 'No replication rules. Create one below: a machine, a target Core, and when to send.')
    : h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'Machine → target'), h('th', {}, 'State and schedule'), h('th', {}, 'Last point'), h('th', { class: 'num' }, 'Behind'), h('th', { class: 'num' }, 'Sent'), h('th', { class: 'wide' }, 'Progress'), h('th', {}, h('span', { class: 'sr-only' }, 'Actions')))),
      h('tbody', {}, rules.map(r => {
        const paused = r.paused === true || r.state === 'paused'
        const key = ruleKey(r.machine, r.to)
        const path = `/replication/${enc(r.machine)}/${enc(r.to)}`
        return h('tr', { 'data-rule': key },
          h('td', { class: 'nowrap' }, h('strong', {}, r.machine), h('div', { class: 'muted' }, `→ ${peerName(r.to)}`)),
          h('td', {}, h('span', { class: `state ${r.state}` }, r.state),
            h('div', { class: 'muted' }, [r.schedule, r.window ? `window ${r.window}` : null, r.limit ? `limit ${bytes(r.limit)}/s` : null].filter(Boolean).join(' · ')),
            r.seedDrive ? h('div', { class: 'muted' }, `seed drive ${r.seedState ?? ''}`) : null,
            r.error ? h('div', { class: 'error-text', title: r.error }, r.error) : null),
          h('td', { class: 'nowrap' }, r.lastPoint ? h('code', { title: r.lastPoint }, short(r.lastPoint)) : '–', r.lastSuccessAt ? h('div', { class: 'muted' }, ago(r.lastSuccessAt)) : null),
          h('td', { class: 'num nowrap' }, r.pointsBehind ?? '–', r.lagSeconds ? h('div', { class: 'muted' }, `lag ${duration(r.lagSeconds)}`) : null),
          h('td', { class: 'num nowrap' }, bytes(r.bytesSent)),
          h('td', { class: 'wide' }, progressBar(r.machine, r.to)),
          h('td', {}, h('div', { class: 'actions nowrap' },
            paused
              ? h('button', { type: 'button', 'data-key': `resume-${key}`, onclick: (ev) => act(ev.currentTarget, `resumed ${r.machine} → ${peerName(r.to)}`, () => api('POST', `${path}/resume`, {})) }, 'Resume')
              : h('button', { type: 'button', 'data-key': `pause-${key}`, onclick: (ev) => act(ev.currentTarget, `paused ${r.machine} → ${peerName(r.to)}`, () => api('POST', `${path}/pause`, {})) }, 'Pause'),
            h('button', { class: 'primary', type: 'button', 'data-key': `now-${key}`, onclick: (ev) => replicateNow(ev.currentTarget, r) }, 'Replicate now'),
            h('button', {
              class: 'danger',
              type: 'button',
              onclick: (ev) => { if (confirm(`Remove the rule ${r.machine} → ${peerName(r.to)}? Points already replicated stay on the target.`)) act(ev.currentTarget, 'rule removed', () => api('DELETE', path)) }
            }, 'Remove'))))
      }))))

  // the new-rule form: machines this Core could send, and peers that accept us first
  const machines = [...new Set(o.machines.map(m => m.tenant && m.direction === 'incoming' ? `${m.tenant}/${m.machine}` : m.machine))]
  $('#machine-names').replaceChildren(...machines.map(m => h('option', { value: m })))
  const select = document.querySelector('#rule-add select[name="to"]')
  const targets = o.peers.filter(p => p.state !== 'pending')
  const options = targets.map(p => [p.peerId, `${p.name ?? short(p.peerId)}${p.canSendTo ? '' : ' (has not approved this Core yet)'}`])
  // rebuilt only when it changed: rebuilding closes a dropdown the operator has open
  if (select.dataset.options !== JSON.stringify(options)) {
    const chosen = select.value
    select.dataset.options = JSON.stringify(options)
    select.replaceChildren(h('option', { value: '' }, targets.length ? 'choose a Core…' : 'no peers yet'),
      ...options.map(([value, label]) => h('option', { value }, label)))
    if (chosen) select.value = chosen
  }

  const incoming = o.machines.filter(m => m.direction === 'incoming')
  renderInto($('#incoming'), incoming.length === 0
    ? h('p', { class: 'empty' }, 'No other Core replicates to this one yet.')
    : h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'Machine'), h('th', {}, 'Source Core'), h('th', {}, 'Origin'), h('th', {}, 'Tenant'), h('th', { class: 'num' }, 'Points'), h('th', {}, 'State'), h('th', {}, 'Latest'))),
      h('tbody', {}, incoming.map(m => h('tr', { 'data-machine': m.machine, 'data-tenant': m.tenant },
        h('td', {}, h('strong', {}, m.machine)),
        h('td', {}, peerName(m.receivedFrom ?? m.origin)),
        h('td', {}, m.originName ?? short(m.origin)),
        h('td', {}, m.tenant || '(own)'),
        h('td', { class: 'num' }, m.pointCount),
        h('td', {}, m.orphans ? h('span', { class: 'state paused' }, `${m.orphans} orphan${m.orphans > 1 ? 's' : ''}`) : h('span', { class: 'state ok' }, 'complete')),
        h('td', { class: 'when' }, ago(m.points.at(-1)?.createdAt)))))))
}

async function replicateNow (button, r) {
  updateJob(r.machine, r.to, { running: true, reset: true })
  await act(button, `replicated ${r.machine} → ${peerName(r.to)}`, () =>
    api('POST', `/replication/${enc(r.machine)}/${enc(r.to)}/now`, {}, (p) => {
      // the same job's progress also arrives on the event stream; this is for a Core that does not publish it
      const job = state.jobs.get(ruleKey(r.machine, r.to))
      if (p.unit === 'bytes' && !job?.live) updateJob(r.machine, r.to, { running: true, pointBytesSent: p.done, bytesToSend: p.total })
    }))
}

function renderTopology () {
  const o = state.overview
  const nodes = new Map()
  const add = (peerId, role) => {
    if (!peerId || nodes.has(peerId)) return
    const peer = o.peers.find(p => p.peerId === peerId)
    nodes.set(peerId, { peerId, role, name: peerId === o.core.peerId ? o.core.name : peer?.name ?? short(peerId), health: peerId === o.core.peerId ? 'self' : peer?.health ?? 'unknown', peer })
  }
  add(o.core.peerId, 'self')
  for (const p of o.peers) add(p.peerId, 'peer')
  const links = new Map()
  const link = (from, to, machine, kind, stateName) => {
    const key = `${from}>${to}`
    const l = links.get(key) ?? { from, to, machines: [], kind, states: [] }
    l.machines.push(machine)
    l.states.push(stateName)
    links.set(key, l)
  }
  for (const r of o.rules) { add(r.to, 'peer'); link(o.core.peerId, r.to, r.machine, 'rule', r.state) }
  for (const m of o.machines.filter(x => x.direction === 'incoming')) {
    const from = m.receivedFrom ?? m.origin
    add(from, 'peer')
    link(from, o.core.peerId, m.machine, 'incoming', m.orphans ? 'orphans' : 'ok')
    if (m.origin !== from) { add(m.origin, 'origin'); link(m.origin, from, m.machine, 'inferred', 'ok') }
  }

  const W = 900
  const H = 520
  const cx = W / 2
  const cy = H / 2
  const others = [...nodes.values()].filter(n => n.role !== 'self')
  const pos = new Map([[o.core.peerId, [cx, cy]]])
  others.forEach((n, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, others.length)
    pos.set(n.peerId, [cx + Math.cos(a) * 330, cy + Math.sin(a) * 175])
  })
  const colour = (st) => st.includes('error') ? 'red' : st.includes('running') ? 'blue' : st.every(x => x === 'paused') || st.includes('orphans') ? 'yellow' : 'green'
  const edges = [...links.values()].map(l => {
    const [x1, y1] = pos.get(l.from)
    const [x2, y2] = pos.get(l.to)
    const both = links.has(`${l.to}>${l.from}`)
    // curve mutual links apart; stop the arrow at the node's edge
    const dx = x2 - x1
    const dy = y2 - y1
    const len = Math.hypot(dx, dy) || 1
    const r = 30
    const sx = x1 + dx / len * r
    const sy = y1 + dy / len * r
    const ex = x2 - dx / len * (r + 6)
    const ey = y2 - dy / len * (r + 6)
    const bend = both ? 40 : 0
    const mx = (sx + ex) / 2 - dy / len * bend
    const my = (sy + ey) / 2 + dx / len * bend
    const c = colour(l.states)
    return s('g', { class: 'edge', 'data-from': l.from, 'data-to': l.to },
      s('path', { d: `M${sx},${sy} Q${mx},${my} ${ex},${ey}`, stroke: COLOUR[c], 'stroke-dasharray': l.kind === 'inferred' ? '5 5' : null, 'marker-end': `url(#arrow-${c})` }),
      s('text', { x: mx, y: my - 6, 'text-anchor': 'middle' }, l.machines.join(', ')))
  })
  const fill = (health) => COLOUR[health === 'self' || health === 'unknown' ? health : HEALTH_COLOUR[health]]
  const circles = [...nodes.values()].map(n => {
    const [x, y] = pos.get(n.peerId)
    return s('g', { class: 'node', 'data-peer': n.peerId, transform: `translate(${x},${y})` },
      s('title', {}, `${n.name} (${n.peerId})${n.role === 'self' ? ' — this Core' : n.peer ? ` — ${n.peer.healthReason}` : ' — known from the points it took'}`),
      s('circle', { r: 28, fill: fill(n.health) }),
      // labels away from the centre, so links to this Core do not cross them
      s('text', { y: y < cy ? -53 : 46, 'text-anchor': 'middle', 'font-weight': n.role === 'self' ? 700 : 500 }, n.name),
      s('text', { y: y < cy ? -38 : 61, 'text-anchor': 'middle', class: 'sub' }, n.role === 'self' ? 'this Core' : n.peer ? n.peer.healthReason.slice(0, 40) : 'origin'))
  })
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `Topology: ${nodes.size} Cores, ${links.size} links` },
    s('defs', {}, ['green', 'yellow', 'red', 'blue'].map(c => s('marker', { id: `arrow-${c}`, viewBox: '0 0 10 10', refX: 8, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
      s('path', { d: 'M0,0 L10,5 L0,10 z', fill: COLOUR[c] })))),
    edges, circles)
  renderInto($('#topology-graph'), svg)
  renderInto($('#topology-links'), links.size === 0
    ? h('p', { class: 'empty' }, 'No replication yet: create a rule on the Replication page.')
    : h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'From'), h('th', {}, 'To'), h('th', {}, 'Machines'), h('th', {}, 'Known from'))),
      h('tbody', {}, [...links.values()].map(l => h('tr', {},
        h('td', {}, nodes.get(l.from).name), h('td', {}, nodes.get(l.to).name), h('td', {}, l.machines.join(', ')),
        h('td', {}, l.kind === 'rule' ? 'a rule on this Core' : l.kind === 'incoming' ? 'points received here' : 'origin of points received here'))))))
}

function renderSeeds () {
  const o = state.overview
  const outstanding = o.seeds.filter(x => x.state === 'outstanding' || x.state === 'partial')
  const done = o.seeds.filter(x => !(x.state === 'outstanding' || x.state === 'partial'))
  const table = (rows, actions) => rows.length === 0
    ? h('p', { class: 'empty' }, 'None.')
    : h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'Seed'), h('th', {}, 'Direction'), h('th', {}, 'State'), h('th', {}, 'Machines'), h('th', {}, 'Points taken'), h('th', { class: 'num' }, 'Points'), h('th', {}, 'Parts'), h('th', { class: 'num' }, 'Size'), h('th', {}, 'Written'), actions ? h('th', {}, '') : null)),
      h('tbody', {}, rows.map(x => h('tr', { 'data-seed': x.seed, 'data-state': x.state },
        h('td', {}, h('code', { title: x.seed }, short(x.seed))),
        h('td', { class: 'nowrap' }, x.direction === 'outgoing' ? `to ${x.target ? peerName(x.target) : 'any Core'}` : `from ${peerName(x.source)}`),
        h('td', {}, h('span', { class: `state ${x.state === 'consumed' ? 'ok' : x.state === 'abandoned' ? 'error' : 'paused'}` }, x.state)),
        h('td', {}, x.machines.join(', ')),
        h('td', { class: 'when' }, `${when(x.from)} – ${when(x.to)}`),
        h('td', { class: 'num' }, x.points),
        h('td', {}, x.missingParts?.length ? `${x.parts - x.missingParts.length} of ${x.parts} (missing ${x.missingParts.join(', ')})` : String(x.parts)),
        h('td', { class: 'num nowrap' }, x.bytes == null ? '–' : bytes(x.bytes)),
        h('td', { class: 'when' }, ago(x.createdAt)),
        actions ? h('td', {}, x.direction === 'outgoing' && x.state === 'outstanding'
          ? h('button', {
            class: 'danger',
            type: 'button',
            onclick: (ev) => { if (confirm('Abandon this seed drive? Its points go over the network in the next job.')) act(ev.currentTarget, 'seed drive abandoned', () => api('POST', `/seeds/${enc(x.seed)}/abandon`, {})) }
          }, 'Abandon')
          : null) : null))))
  renderInto($('#seeds-outstanding'), table(outstanding, true))
  renderInto($('#seeds-done'), table(done, false))
}

function renderEvents () {
  const form = $('#event-filter')
  const q = form.q.value.trim().toLowerCase()
  const level = form.level.value
  const list = state.events.filter(e => (!level || e.level === level) && (!q || `${e.type} ${e.message}`.toLowerCase().includes(q)))
  const rows = list.slice(-200).reverse()
  renderInto($('#event-list'), rows.length === 0
    ? h('p', { class: 'empty' }, 'No events.')
    : h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'When'), h('th', {}, 'Level'), h('th', {}, 'Type'), h('th', {}, 'What happened'))),
      h('tbody', {}, rows.map(e => h('tr', { class: e.fresh ? 'fresh' : '', 'data-seq': e.seq, 'data-type': e.type },
        h('td', { class: 'when', title: e.at }, when(e.at)),
        h('td', {}, h('span', { class: `level ${e.level}` }, e.level)),
        h('td', { class: 'type' }, h('code', {}, e.type)),
        h('td', { title: e.message }, shortenIds(e.message)))))))
  for (const e of state.events) delete e.fresh
}

// ---- forms -------------------------------------------------------------------------------------

function bindForms () {
  $('#peer-add').addEventListener('submit', async (ev) => {
    ev.preventDefault()
    const f = ev.currentTarget
    const body = { address: f.address.value.trim() }
    if (f.name.value.trim()) body.name = f.name.value.trim()
    const ok = await act(f.querySelector('button'), 'pairing request sent', () => api('POST', '/peers', body))
    if (ok) f.reset()
  })
  $('#rule-add').addEventListener('submit', async (ev) => {
    ev.preventDefault()
    const f = ev.currentTarget
    const body = { machine: f.machine.value.trim(), to: f.to.value }
    for (const k of ['schedule', 'window', 'limit']) if (f[k].value.trim()) body[k] = f[k].value.trim()
    if (f.seedDrive.checked) body.seedDrive = true
    if (f.paused.checked) body.paused = true
    const ok = await act(f.querySelector('button[type="submit"]'), `rule created: ${body.machine} → ${peerName(body.to)}`, () => api('POST', '/replication', body))
    if (ok) f.reset()
  })
  $('#seed-consume').addEventListener('submit', async (ev) => {
    ev.preventDefault()
    const f = ev.currentTarget
    const out = $('#seed-consume-progress')
    const show = (text) => renderInto(out, h('p', { class: 'muted' }, text))
    show('reading the parts…')
    const result = await act(f.querySelector('button'), 'seed drive consumed', () => api('POST', '/seeds/consume', { dir: f.dir.value.trim() }, (p) => {
      show(`${p.phase}: ${p.unit === 'bytes' ? bytes(p.done) : p.done}${p.total ? ` of ${p.unit === 'bytes' ? bytes(p.total) : p.total}` : ''} ${p.unit === 'bytes' ? '' : p.unit}`)
    }))
    if (result) show(`${result.imported} blocks imported, ${result.pointsCompleted.length} points completed${result.missingParts.length ? `; parts still missing: ${result.missingParts.join(', ')}` : ''}`)
    else out.replaceChildren()
  })
  $('#event-filter').addEventListener('input', renderEvents)
  $('#event-filter').addEventListener('submit', (ev) => ev.preventDefault())
}

// ---- navigation --------------------------------------------------------------------------------

function route () {
  const page = PAGES.includes(location.hash.slice(1)) ? location.hash.slice(1) : 'overview'
  for (const p of PAGES) $(`#page-${p}`).hidden = p !== page
  for (const a of document.querySelectorAll('.sidebar a')) {
    if (a.getAttribute('href') === `#${page}`) a.setAttribute('aria-current', 'page')
    else a.removeAttribute('aria-current')
  }
  document.body.dataset.page = page
}

// keys 1–6 open the pages, unless the operator is typing
window.addEventListener('keydown', (ev) => {
  if (ev.altKey || ev.ctrlKey || ev.metaKey || ev.shiftKey) return
  if (ev.target.closest?.('input, select, textarea, [contenteditable]')) return
  const page = PAGES[Number(ev.key) - 1]
  if (!page) return
  ev.preventDefault()
  location.hash = page
})

window.addEventListener('hashchange', () => {
  route()
  window.scrollTo(0, 0)
  $('#main').focus({ preventScroll: true })
})
// relative times ("3 min ago") stay true without a refetch
setInterval(() => { if (state.overview && document.visibilityState === 'visible') { renderOverview(); renderReplication(); renderSeeds() } }, 30_000)

route()
bindForms()
connect()
