// What an operator's action looks like: the button waits, a toast says how it went, the pages
// refresh.

import { scheduleRefresh } from './data.js'
import { $, h } from './dom.js'

/** Runs an action from a button: disables it meanwhile, reports the outcome. */
export async function act (button, label, fn) {
  if (button) button.disabled = true
  try {
    const result = await fn()
    toast(label)
    scheduleRefresh(0)
    return result
  } catch (err) {
    toast(err.message, true)
  } finally {
    if (button?.isConnected) button.disabled = false
  }
}

export function toast (message, error = false) {
  const el = h('div', { class: error ? 'error' : '' }, message)
  $('#toast').append(el)
  setTimeout(() => el.remove(), error ? 8000 : 4000)
}
