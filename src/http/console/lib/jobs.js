// Replication jobs as the page follows them: progress reports, starts, ends and failures folded
// into one record per rule, and the progress bar that shows it.

import { h } from './dom.js'
import { bytes, duration } from './format.js'
import { peerName, ruleKey, state } from './state.js'

/**
 * Folds a progress report, start, end or failure of a job into its progress bar. Reports carry
 * the job's bytes so far and the size of the current point (`bytesToSend`), so the bar shows the
 * current point ("point 2 of 5"): its bytes are those sent since the previous point ended.
 * Returns true when no bar on the page shows the job yet: the caller renders the Replication page.
 */
export function updateJob (machine, to, p) {
  if (!machine || !to) return false
  const key = ruleKey(machine, to)
  const now = Date.now()
  let job = state.jobs.get(key)
  if (!job || p.reset || (p.running && (job.state === 'done' || job.state === 'failed'))) {
    job = { state: 'indeterminate', bytesSent: 0, point: null, pointBase: 0, done: 0, total: null, rate: null, samples: [], live: false }
  }
  if (p.point != null && p.point !== job.point) {
    job.point = p.point
    job.pointBase = job.bytesSent
  }
  if (p.points != null) { job.points = p.points; job.pointIndex = p.pointIndex }
  if (p.bytesSent != null) job.bytesSent = p.bytesSent
  if (p.pointBytesSent != null) job.done = p.pointBytesSent
  else if (p.bytesSent != null) job.done = p.bytesSent - job.pointBase
  if (p.bytesToSend != null) job.total = p.bytesToSend
  if (p.running) {
    job.samples.push([now, job.bytesSent])
    job.samples = job.samples.filter(([t]) => now - t < 5000)
    const [t0, b0] = job.samples[0]
    // the rate over the last seconds when we have them (the Core's figure averages the whole job)
    if (now - t0 >= 1000) job.rate = (job.bytesSent - b0) / ((now - t0) / 1000)
    else if (p.rate != null) job.rate = p.rate
    job.state = job.total ? 'running' : 'indeterminate'
  }
  if (p.finished) { job.state = 'done'; job.seconds = p.seconds }
  if (p.failed) { job.state = 'failed'; job.message = p.message }
  state.jobs.set(key, job)
  const el = document.querySelector(`.progress[data-rule="${CSS.escape(key)}"]`)
  if (el) el.replaceWith(progressBar(machine, to))
  return el == null
}

export function progressBar (machine, to) {
  const key = ruleKey(machine, to)
  const job = state.jobs.get(key)
  if (!job) return h('div', { class: 'progress', 'data-rule': key, 'data-state': 'none' }, h('span', { class: 'muted' }, '–'))
  const fraction = job.state === 'done' ? 1 : job.total ? Math.min(1, job.done / job.total) : null
  let text
  if (job.state === 'done') text = `done — ${bytes(job.bytesSent)} sent${job.seconds != null ? ` in ${duration(job.seconds)}` : ''}`
  else if (job.state === 'failed') text = `failed: ${job.message ?? 'see Events'}`
  else {
    const parts = [`${bytes(job.bytesSent)} sent`]
    if (job.total) parts[0] = `${bytes(job.done)} of ${bytes(job.total)}`
    if (job.points > 1) parts.push(`point ${job.pointIndex} of ${job.points}`)
    if (job.rate != null) parts.push(`${bytes(job.rate)}/s`)
    if (job.total && job.rate > 0) parts.push(`${duration((job.total - job.done) / job.rate)} left${job.pointIndex < job.points ? ' on this point' : ''}`)
    text = parts.join(' · ')
  }
  return h('div', {
    class: 'progress',
    'data-rule': key,
    'data-state': job.state,
    role: 'progressbar',
    'aria-label': `replication of ${machine} to ${peerName(to)}`,
    'aria-valuemin': 0,
    'aria-valuemax': 100,
    'aria-valuenow': fraction == null ? null : Math.round(fraction * 100),
    'aria-valuetext': text
  },
  h('div', { class: 'bar' }, h('span', { style: fraction == null ? null : { width: `${(fraction * 100).toFixed(1)}%` } })),
  h('div', { class: 'text' }, text))
}
