/**
 * A file time `[seconds, nanoseconds]` since the epoch as ISO 8601 with every digit kept
 * (`2026-12-05T12:50:29.144411045Z`): the form every `--json` time takes (docs/cli.md), with the
 * nanoseconds a backup records, and the order of two such strings of one era is their time order.
 */
export function isoFromNanos (seconds: number, nanoseconds: number): string {
  const whole = new Date(Math.floor(seconds) * 1000).toISOString() // …T12:50:29.000Z
  return `${whole.slice(0, -5)}.${String(nanoseconds).padStart(9, '0')}Z`
}
