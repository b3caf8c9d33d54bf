// Fetching what the pages show: the overview (GET /status) after every change, coalesced, and the
// recent events once; the pages render from `state` when it arrived.

import { api, ApiError } from './api.js'
import { updateJob } from './jobs.js'
import { ruleKey, state } from './state.js'

/** how many events the page keeps */
const MAX_EVENTS = 500

let refreshTimer = null
let refreshing = false
let refreshAgain = false
let render = () => {}

/** What runs when a new overview arrived: the pages render from it. */
export function onRefreshed (fn) {
  render = fn
}

export function scheduleRefresh (delay = 200) {
  clearTimeout(refreshTimer)
  refreshTimer = setTimeout(refresh, delay)
}

async function refresh () {
  if (refreshing) { refreshAgain = true; return }
  refreshing = true
  try {
    const [overview, events] = await Promise.all([
      api('GET', '/status'),
      state.events.length === 0 ? api('GET', '/events?limit=200') : Promise.resolve(null)
    ])
    if (events) mergeEvents(events, false)
    state.overview = overview
    for (const rule of overview.rules) {
      const running = rule.job ?? rule.progress
      // a page opened mid-job starts from the rule's snapshot; live reports take over from there
      if (running && rule.state === 'running' && !state.jobs.get(ruleKey(rule.machine, rule.to.peerId))?.live) updateJob(rule.machine, rule.to.peerId, { ...running, running: true })
    }
    render()
  } catch (err) {
    if (!(err instanceof ApiError)) console.error(err)
  } finally {
    refreshing = false
    if (refreshAgain) { refreshAgain = false; scheduleRefresh(0) }
  }
}

/** Adds events the page has not seen yet, in order; `fresh` ones are highlighted once. */
export function mergeEvents (list, fresh) {
  const seen = new Set(state.events.map(e => e.seq))
  for (const e of list) if (!seen.has(e.seq)) state.events.push(fresh ? { ...e, fresh: true } : e)
  state.events.sort((a, b) => a.seq - b.seq)
  if (state.events.length > MAX_EVENTS) state.events.splice(0, state.events.length - MAX_EVENTS)
}
