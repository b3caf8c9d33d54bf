import cliProgress from 'cli-progress'
import type { Progress } from '../api/operations.ts'
import { formatBytes } from '../common/sizes.ts'

/**
 * A progress bar on stderr, only when stderr is a terminal and output is not JSON. Returns the
 * callback to hand to a long operation and a `stop()` that clears the bar.
 */
export function progressBar (enabled: boolean): { onProgress?: (p: Progress) => void, stop: () => void } {
  if (!enabled || process.stderr.isTTY !== true) return { stop: () => {} }
  let bar: cliProgress.SingleBar | undefined
  let phase = ''
  const fmt = (unit: Progress['unit'], n: number): string => unit === 'bytes' ? formatBytes(n) : String(n)
  return {
    onProgress (p) {
      if (bar == null || phase !== p.phase) {
        bar?.stop()
        phase = p.phase
        bar = new cliProgress.SingleBar({
          stream: process.stderr,
          format: (options, params, payload) => {
            const total = payload.total as number | undefined
            const width = options.barsize ?? 30
            const filled = total != null && total > 0 ? Math.min(width, Math.round(width * params.value / total)) : 0
            const graph = total != null ? `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ` : ''
            const amount = total != null ? `${fmt(payload.unit, params.value)} / ${fmt(payload.unit, total)}` : fmt(payload.unit, params.value)
            return `${payload.phase} ${graph}${amount} ${payload.detail ?? ''}`.slice(0, (process.stderr.columns ?? 100) - 1)
          },
          hideCursor: true,
          clearOnComplete: true
        })
        bar.start(p.total ?? 0, p.done, { phase: p.phase, unit: p.unit, total: p.total, detail: p.detail })
      }
      if (p.total != null) bar.setTotal(p.total)
      bar.update(p.done, { unit: p.unit, total: p.total, detail: p.detail })
    },
    stop () { bar?.stop() }
  }
}
