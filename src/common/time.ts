/**
 * A file time `[seconds, nanoseconds]` since the epoch as ISO 8601 with every digit kept
 * (`2026-12-05T12:50:29.144411045Z`): the form every `--json` time takes (docs/cli.md), with the
 * nanoseconds a backup records, and the order of two such strings of one era is their time order.
 */
export function isoFromNanos (seconds: number, nanoseconds: number): string {
  const whole = new Date(Math.floor(seconds) * 1000).toISOString() // …T12:50:29.000Z
  return `${whole.slice(0, -5)}.${String(nanoseconds).padStart(9, '0')}Z`
}

/** The inverse of `isoFromNanos` (also takes fewer fraction digits, or none). */
export function nanosFromIso (text: string): [number, number] {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(text)
  if (m === null) throw new RangeError(`not an ISO 8601 UTC time: ${text}`)
  const seconds = Date.parse(`${m[1]}Z`) / 1000
  if (!Number.isFinite(seconds)) throw new RangeError(`not an ISO 8601 UTC time: ${text}`)
  return [seconds, Number((m[2] ?? '').padEnd(9, '0'))]
}
