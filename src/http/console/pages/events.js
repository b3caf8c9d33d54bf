// Events: the Core's events, newest first, arriving live; filtered by words or level.

import { $, h, renderInto } from '../lib/dom.js'
import { shortenIds, when } from '../lib/format.js'
import { state } from '../lib/state.js'

export function render () {
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

/** Filters the list as the operator types. */
export function bind () {
  $('#event-filter').addEventListener('input', render)
  $('#event-filter').addEventListener('submit', (ev) => ev.preventDefault())
}
