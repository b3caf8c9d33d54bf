// Overview: the repository in figures, then every machine with its chain as a timeline of
// points (base images, incrementals, orphans); a selected point shows its details.

import { $, h, renderInto } from '../lib/dom.js'
import { ago, bytes, plural, ratio, short, when } from '../lib/format.js'
import { peerName, state } from '../lib/state.js'

function card (label, value, note, href) {
  const body = [h('div', { class: 'label' }, label), h('div', { class: 'value' }, value), note ? h('div', { class: 'note' }, note) : null]
  return h('div', { class: 'card' }, href ? h('a', { href }, body) : body)
}

export function render () {
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
    const origin = m.direction === 'local' ? 'this Core' : (m.origin.name ?? short(m.origin.peerId))
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
        'data-key': `pt-${m.tenant}-${m.origin.peerId}-${p.point}`,
        tabindex: i === shown.length - 1 ? 0 : -1,
        'aria-pressed': selected ? 'true' : 'false',
        'aria-label': `${p.kind === 'base' ? 'base image' : 'incremental'} #${p.seq}, ${when(p.createdAt)}, ${p.complete ? 'complete' : `orphan, ${p.missingBlocks} blocks missing`}`,
        title: `#${p.seq} ${p.kind} · ${when(p.createdAt)} · ${bytes(p.bytes)} · ${p.complete ? 'complete' : 'orphan'}`,
        onclick: () => selectPoint(m, p),
        onkeydown: timelineKeys
      }))
    })
    return h('article', { class: 'machine', 'data-machine': m.machine, 'data-tenant': m.tenant },
      h('header', {},
        h('h3', {}, m.machine),
        h('div', { class: 'facts' },
          h('span', {}, m.direction === 'local' ? 'backed up here' : `replicated from ${peerName((m.receivedFrom ?? m.origin).peerId)}`),
          h('span', {}, `origin ${origin}`),
          m.tenant ? h('span', {}, `tenant ${m.tenant}`) : null,
          m.cluster ? h('span', {}, `cluster ${m.cluster}`) : null,
          h('span', {}, plural(m.pointCount, 'point')),
          h('span', { class: m.orphans ? 'orphans' : '' }, `${m.complete} complete${m.orphans ? `, ${m.orphans} orphan${m.orphans > 1 ? 's' : ''}` : ''}`),
          h('span', {}, `${bytes(m.logicalBytes)} protected`),
          h('span', {}, `latest ${ago(shown.at(-1)?.createdAt)}`),
          h('span', { class: 'retention' }, retentionText(m.retention)))),
      h('div', { class: 'timeline', role: 'group', 'aria-label': chainLabel }, boxes))
  })
  renderInto($('#machines'), machines.length ? machines : h('p', { class: 'empty' }, 'No recovery points yet. Take one with ', h('code', {}, 'drcore backup <machine> <path>'), '.'))
  renderInto($('#tenants'), o.tenants.length === 0
    ? h('p', { class: 'empty' }, 'No tenants: approve a peer into one to host its points.')
    : h('table', {},
      h('thead', {}, h('tr', {}, ['Tenant', 'Points', 'Stored', 'Quota', 'Retention lock'].map(x => h('th', {}, x)))),
      h('tbody', {}, o.tenants.map(t => h('tr', { 'data-tenant': t.tenant },
        h('td', {}, t.tenant),
        h('td', {}, String(t.points)),
        h('td', {}, bytes(t.storedBytes)),
        h('td', {}, t.quota === null ? 'none' : `${bytes(t.quota)} (${Math.round(t.storedBytes / t.quota * 100)}%)`),
        h('td', {}, t.retentionLock === null ? 'none' : t.lockedPoints > 0 ? `${t.retentionLock}: keeps ${plural(t.lockedPoints, 'point')} until ${when(t.lockedUntil)}` : t.retentionLock))))))
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
    row('State', (p.complete ? 'complete: volume- and file-level restore' : `orphan: ${p.missingBlocks} blocks missing; file-level restore only until they arrive`) +
      (p.skipped > 0 ? `; partial: ${p.skipped} entries were not stored (see the backup's skipped list)` : '')),
    row('Data', `${p.files} files, ${bytes(p.bytes)}`),
    row('Parent', p.parent ? [h('code', {}, short(p.parent)), p.parentPresent === false ? ' (forgotten here: this point stays whole, its closure is its own)' : ''] : '– (starts a chain)'),
    p.receivedAt ? row('Received', `${when(p.receivedAt)} (its age for retention here)`) : null,
    row('Restore', h('code', { class: 'copyable' }, `drcore restore ${m.machine} <dest> --point ${p.point}`))))
}

/** A machine's standing policy and its next rollup, as `drcore retention show` says them. */
function retentionText (r) {
  const lock = r.locked > 0 ? `; lock keeps ${plural(r.locked, 'point')}` : ''
  if (r.policy === null) return `no retention policy${lock}`
  const names = { keepLast: 'last', keepHourly: 'hourly', keepDaily: 'daily', keepWeekly: 'weekly', keepMonthly: 'monthly', keepYearly: 'yearly', keepWithin: 'within' }
  const policy = Object.entries(r.policy).map(([k, v]) => `${names[k] ?? k} ${v}`).join(', ')
  return `keep ${policy}${r.policySource === 'default' ? ' (default)' : ''}; next rollup removes ${plural(r.wouldRemove.length, 'point')}${lock}`
}
