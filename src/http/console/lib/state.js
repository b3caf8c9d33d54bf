// What the page knows: the Core's overview (GET /status), the events it has seen, the jobs it
// follows. One object every page reads; only the data and stream modules replace its parts.

import { short } from './format.js'

export const state = {
  overview: null,
  events: [],
  /** rule key -> { state: running|indeterminate|done|failed, bytesSent, total, rate, pointIndex, points, message, samples } */
  jobs: new Map(),
  selectedPoint: null
}

/** a rule's key in data attributes (no NUL: CSS.escape would turn it into U+FFFD) */
export const ruleKey = (machine, to) => `${machine}→${to}`

/** A peer's name as the operator gave it, this Core's own name, or its shortened id. */
export function peerName (peerId) {
  if (!peerId) return '–'
  const o = state.overview
  if (o?.core.peerId === peerId) return `${o.core.name} (this Core)`
  const p = o?.peers.find(x => x.peerId === peerId)
  return p?.name ?? short(peerId)
}
