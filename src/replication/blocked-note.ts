import type { JobResult } from './api.ts'

/** ": 2 points are damaged on this Core too (drcore repair)", for a job summary. */
export function blockedNote (blocked: JobResult['blocked']): string {
  const damaged = blocked.filter(b => b.why === 'damaged').length
  const incomplete = blocked.length - damaged
  const parts: string[] = []
  if (damaged > 0) parts.push(`${damaged} ${damaged === 1 ? 'point is' : 'points are'} damaged on this Core too (drcore repair)`)
  if (incomplete > 0) parts.push(`${incomplete} ${incomplete === 1 ? 'point is' : 'points are'} incomplete on this Core (waiting for older data)`)
  return parts.length === 0 ? '' : `: ${parts.join('; ')}`
}
