// Replication: the outgoing rules with their state, schedule, lag and a live progress bar, the
// actions on them, a form for a new rule; and the machines other Cores replicate to this one.

import { api, enc } from '../lib/api.js'
import { $, h, renderInto } from '../lib/dom.js'
import { ago, bytes, duration, short } from '../lib/format.js'
import { progressBar, updateJob } from '../lib/jobs.js'
import { peerName, ruleKey, state } from '../lib/state.js'
import { act } from '../lib/ui.js'

export function render () {
  const o = state.overview
  if (!o) return
  const rules = o.rules
  renderInto($('#rules'), rules.length === 0
    ? h('p', { class: 'empty' }, 'No replication rules. Create one below: a machine, a target Core, and when to send.')
    : h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'Machine → target'), h('th', {}, 'State and schedule'), h('th', {}, 'Last point'), h('th', { class: 'num' }, 'Behind'), h('th', { class: 'num' }, 'Sent'), h('th', { class: 'wide' }, 'Progress'), h('th', {}, h('span', { class: 'sr-only' }, 'Actions')))),
      h('tbody', {}, rules.map(r => {
        const paused = r.paused === true || r.state === 'paused'
        const key = ruleKey(r.machine, r.to.peerId)
        const path = `/replication/${enc(r.machine)}/${enc(r.to.peerId)}`
        return h('tr', { 'data-rule': key },
          h('td', { class: 'nowrap' }, h('strong', {}, r.machine), h('div', { class: 'muted' }, `→ ${peerName(r.to.peerId)}`)),
          h('td', {}, h('span', { class: `state ${r.state}` }, r.state),
            h('div', { class: 'muted' }, [r.schedule, r.window ? `window ${r.window}` : null, r.limit ? `limit ${bytes(r.limit)}/s` : null].filter(Boolean).join(' · ')),
            r.seedDrive ? h('div', { class: 'muted' }, `seed drive ${r.seedState ?? ''}`) : null,
            r.error ? h('div', { class: 'error-text', title: r.error }, r.error) : null),
          h('td', { class: 'nowrap' }, r.lastPoint ? h('code', { title: r.lastPoint }, short(r.lastPoint)) : '–', r.lastSuccessAt ? h('div', { class: 'muted' }, ago(r.lastSuccessAt)) : null),
          h('td', { class: 'num nowrap' }, r.pointsBehind ?? '–', r.lagSeconds ? h('div', { class: 'muted' }, `lag ${duration(r.lagSeconds)}`) : null),
          h('td', { class: 'num nowrap' }, bytes(r.bytesSent)),
          h('td', { class: 'wide' }, progressBar(r.machine, r.to.peerId)),
          h('td', {}, h('div', { class: 'actions nowrap' },
            paused
              ? h('button', { type: 'button', 'data-key': `resume-${key}`, onclick: (ev) => act(ev.currentTarget, `resumed ${r.machine} → ${peerName(r.to.peerId)}`, () => api('POST', `${path}/resume`, {})) }, 'Resume')
              : h('button', { type: 'button', 'data-key': `pause-${key}`, onclick: (ev) => act(ev.currentTarget, `paused ${r.machine} → ${peerName(r.to.peerId)}`, () => api('POST', `${path}/pause`, {})) }, 'Pause'),
            h('button', { class: 'primary', type: 'button', 'data-key': `now-${key}`, onclick: (ev) => replicateNow(ev.currentTarget, r) }, 'Replicate now'),
            h('button', {
              class: 'danger',
              type: 'button',
              onclick: (ev) => { if (confirm(`Remove the rule ${r.machine} → ${peerName(r.to.peerId)}? Points already replicated stay on the target.`)) act(ev.currentTarget, 'rule removed', () => api('DELETE', path)) }
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
        h('td', {}, peerName((m.receivedFrom ?? m.origin).peerId)),
        h('td', {}, m.origin.name ?? short(m.origin.peerId)),
        h('td', {}, m.tenant || '(own)'),
        h('td', { class: 'num' }, m.pointCount),
        h('td', {}, m.orphans ? h('span', { class: 'state paused' }, `${m.orphans} orphan${m.orphans > 1 ? 's' : ''}`) : h('span', { class: 'state ok' }, 'complete')),
        h('td', { class: 'when' }, ago(m.points.at(-1)?.createdAt)))))))
}

async function replicateNow (button, r) {
  if (updateJob(r.machine, r.to.peerId, { running: true, reset: true })) render()
  await act(button, `replicated ${r.machine} → ${peerName(r.to.peerId)}`, () =>
    api('POST', `/replication/${enc(r.machine)}/${enc(r.to.peerId)}/now`, {}, (p) => {
      // the same job's progress also arrives on the event stream; this is for a Core that does not publish it
      const job = state.jobs.get(ruleKey(r.machine, r.to.peerId))
      if (p.unit === 'bytes' && !job?.live && updateJob(r.machine, r.to.peerId, { running: true, pointBytesSent: p.done, bytesToSend: p.total })) render()
    }))
}

/** Creates a rule from the form. */
export function bind () {
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
}
