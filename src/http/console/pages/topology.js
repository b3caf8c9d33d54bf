// Topology: the Cores this Core knows and the replication between them as it can see it (its
// rules, the machines it receives, multi-hop origins), drawn as SVG and listed in a table.

import { h, renderInto, s, $ } from '../lib/dom.js'
import { COLOUR, HEALTH_COLOUR, short } from '../lib/format.js'
import { state } from '../lib/state.js'

export function render () {
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
  for (const r of o.rules) { add(r.to.peerId, 'peer'); link(o.core.peerId, r.to.peerId, r.machine, 'rule', r.state) }
  for (const m of o.machines.filter(x => x.direction === 'incoming')) {
    const from = (m.receivedFrom ?? m.origin).peerId
    add(from, 'peer')
    link(from, o.core.peerId, m.machine, 'incoming', m.orphans ? 'orphans' : 'ok')
    if (m.origin.peerId !== from) { add(m.origin.peerId, 'origin'); link(m.origin.peerId, from, m.machine, 'inferred', 'ok') }
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
