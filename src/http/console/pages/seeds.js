// Seed drives: outstanding seeds (abandon one to send its points over the network), consumed
// and abandoned ones, and a form to consume a seed drive from a directory on the Core's machine.

import { api, enc } from '../lib/api.js'
import { $, h, renderInto } from '../lib/dom.js'
import { ago, bytes, short, when } from '../lib/format.js'
import { peerName, state } from '../lib/state.js'
import { act } from '../lib/ui.js'

export function render () {
  const o = state.overview
  const outstanding = o.seeds.filter(x => x.state === 'outstanding' || x.state === 'partial')
  const done = o.seeds.filter(x => !(x.state === 'outstanding' || x.state === 'partial'))
  const table = (rows, actions) => rows.length === 0
    ? h('p', { class: 'empty' }, 'None.')
    : h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'Seed'), h('th', {}, 'Direction'), h('th', {}, 'State'), h('th', {}, 'Machines'), h('th', {}, 'Points taken'), h('th', { class: 'num' }, 'Points'), h('th', {}, 'Parts'), h('th', { class: 'num' }, 'Size'), h('th', {}, 'Written'), actions ? h('th', {}, '') : null)),
      h('tbody', {}, rows.map(x => h('tr', { 'data-seed': x.seed, 'data-state': x.state },
        h('td', {}, h('code', { title: x.seed }, short(x.seed))),
        h('td', { class: 'nowrap' }, x.direction === 'outgoing' ? `to ${x.target ? peerName(x.target.peerId) : 'any Core'}` : `from ${peerName(x.source.peerId)}`),
        h('td', {}, h('span', { class: `state ${x.state === 'consumed' ? 'ok' : x.state === 'abandoned' ? 'error' : 'paused'}` }, x.state)),
        h('td', {}, x.machines.join(', ')),
        h('td', { class: 'when' }, `${when(x.oldest)} – ${when(x.newest)}`),
        h('td', { class: 'num' }, x.points),
        h('td', {}, x.missingParts?.length ? `${x.parts - x.missingParts.length} of ${x.parts} (missing ${x.missingParts.join(', ')})` : String(x.parts)),
        h('td', { class: 'num nowrap' }, x.bytes == null ? '–' : bytes(x.bytes)),
        h('td', { class: 'when' }, ago(x.createdAt)),
        actions
          ? h('td', {}, x.direction === 'outgoing' && x.state === 'outstanding'
            ? h('button', {
              class: 'danger',
              type: 'button',
              onclick: (ev) => { if (confirm('Abandon this seed drive? Its points go over the network in the next job.')) act(ev.currentTarget, 'seed drive abandoned', () => api('POST', `/seeds/${enc(x.seed)}/abandon`, {})) }
            }, 'Abandon')
            : null)
          : null))))
  renderInto($('#seeds-outstanding'), table(outstanding, true))
  renderInto($('#seeds-done'), table(done, false))
}

/** Consumes a seed drive from the directory typed in the form, showing its progress. */
export function bind () {
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
}
