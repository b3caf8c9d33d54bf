// Which page shows: the address's #fragment, the links in the navigation, and the keys 1 to 6.

import { $ } from './dom.js'

/** the pages in the order of the navigation (and of the keys 1 to 6) */
export const PAGES = ['overview', 'peers', 'replication', 'topology', 'seeds', 'events']

function route () {
  const page = PAGES.includes(location.hash.slice(1)) ? location.hash.slice(1) : 'overview'
  for (const p of PAGES) $(`#page-${p}`).hidden = p !== page
  for (const a of document.querySelectorAll('.sidebar a')) {
    if (a.getAttribute('href') === `#${page}`) a.setAttribute('aria-current', 'page')
    else a.removeAttribute('aria-current')
  }
  document.body.dataset.page = page
}

/** Shows the page the address names, and follows the links and keys from now on. */
export function startRouter () {
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
  route()
}
