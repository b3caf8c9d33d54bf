// drcore web console: plain modern JavaScript modules, no build step, no framework; the Core
// serves these files as they are. Data: GET /api/v1/status (the overview) and /api/v1/events;
// live updates from the server-sent event stream /api/v1/events/stream. The drcore_token cookie
// (set by /login) authenticates.
//
// This module wires the parts: lib/ holds what the pages share (API client, event stream, data,
// formatting, router), pages/ one module per page, each with render() and, where the page has a
// form, bind().

import { mergeEvents, onRefreshed, scheduleRefresh } from './lib/data.js'
import { $ } from './lib/dom.js'
import { updateJob } from './lib/jobs.js'
import { startRouter } from './lib/router.js'
import { ruleKey, state } from './lib/state.js'
import { openStream } from './lib/stream.js'
import * as overview from './pages/overview.js'
import * as peers from './pages/peers.js'
import * as replication from './pages/replication.js'
import * as topology from './pages/topology.js'
import * as seeds from './pages/seeds.js'
import * as events from './pages/events.js'

/** events after which the overview is refetched */
const REFRESH_ON = /^(backup|replication|pairing|peer|seed|points|verify|fetch|restore|core|retention|tenant|prune)\./

/** Every page and the navigation's badges, from the overview just fetched. */
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
  overview.render()
  peers.render()
  replication.render()
  topology.render()
  seeds.render()
  events.render()
}

/** One event from the stream: jobs' progress goes to their bars, the rest to the Events page. */
function onEvent (e) {
  const d = e.data ?? {}
  // a job the Replication page does not show yet: render it, with its bar
  const job = (p) => { if (updateJob(d.machine, d.to, p)) replication.render() }
  if (e.type === 'replication.progress') {
    job({ ...d, running: !d.done })
    const followed = state.jobs.get(ruleKey(d.machine, d.to))
    if (followed) followed.live = true
    return
  }
  if (e.type === 'replication.started') job({ running: true, bytesSent: 0, reset: true })
  if (e.type === 'replication.finished') job({ finished: true, bytesSent: d.bytes ?? d.bytesSent, seconds: d.seconds })
  if (e.type === 'replication.failed') job({ failed: true, message: d.error })
  if (e.seq > 0) {
    mergeEvents([e], true)
    events.render()
  }
  if (REFRESH_ON.test(e.type)) scheduleRefresh()
}

// relative times ("3 min ago") stay true without a refetch
setInterval(() => { if (state.overview && document.visibilityState === 'visible') { overview.render(); replication.render(); seeds.render() } }, 30_000)

onRefreshed(render)
startRouter()
for (const page of [peers, replication, seeds, events]) page.bind()
openStream({ onOpen: () => scheduleRefresh(0), onEvent })
