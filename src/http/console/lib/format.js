// How figures, times, ids and states read on the page.

export function bytes (n) {
  if (n == null || Number.isNaN(n)) return '–'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`
}

export function duration (seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return '–'
  seconds = Math.max(0, Math.round(seconds))
  if (seconds < 60) return `${seconds} s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor(seconds % 3600 / 60)} min`
  return `${Math.floor(seconds / 86400)} d ${Math.floor(seconds % 86400 / 3600)} h`
}

export function ago (iso) {
  if (!iso) return '–'
  const s = (Date.now() - Date.parse(iso)) / 1000
  if (s < 5) return 'just now'
  return `${duration(s)} ago`
}

export function when (iso) {
  if (!iso) return '–'
  const d = new Date(iso)
  const pad = (n) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

export function short (id) {
  if (!id) return '–'
  return id.length > 16 ? `${id.slice(0, 6)}…${id.slice(-6)}` : id
}

export function plural (n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/** Peer ids and CIDs in messages, shortened; the full text stays in the row's title. */
export function shortenIds (text) {
  return text.replace(/\b(12D3KooW[1-9A-HJ-NP-Za-km-z]{44}|baf[a-z2-7]{50,})\b/g, short)
}

export function ratio (r) {
  return r == null ? '–' : `${r.toFixed(r < 10 ? 2 : 1)}×`
}

/** a peer's health as the colour of its dot (always shown with words beside it) */
export const HEALTH_COLOUR = { connected: 'green', paused: 'yellow', error: 'red', offline: 'grey' }
/** the same colours for SVG presentation attributes, which cannot read CSS variables */
export const COLOUR = { green: '#1f8a3b', yellow: '#d99a00', red: '#c62828', grey: '#8a94a3', blue: '#2563eb', self: '#1e293b', unknown: '#cbd5e1' }
