// Peers: this Core's id and addresses, pending pairing requests (approve into a tenant, deny,
// ignore), the known peers with their status colours, and a form to send a pairing request.

import { api, enc } from '../lib/api.js'
import { $, h, renderInto } from '../lib/dom.js'
import { ago, HEALTH_COLOUR, short } from '../lib/format.js'
import { state } from '../lib/state.js'
import { act } from '../lib/ui.js'

export function render () {
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

/** Sends a pairing request from the form. */
export function bind () {
  $('#peer-add').addEventListener('submit', async (ev) => {
    ev.preventDefault()
    const f = ev.currentTarget
    const body = { address: f.address.value.trim() }
    if (f.name.value.trim()) body.name = f.name.value.trim()
    const ok = await act(f.querySelector('button'), 'pairing request sent', () => api('POST', '/peers', body))
    if (ok) f.reset()
  })
}

function relationship (p) {
  if (p.state === 'requested') return 'we asked; waiting for its answer'
  if (p.state === 'denied') return p.healthReason
  const ways = []
  if (p.accepts) ways.push('sends to us')
  if (p.canSendTo) ways.push('we send to it')
  return ways.join(' · ') || '–'
}
