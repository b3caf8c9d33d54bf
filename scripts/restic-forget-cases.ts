/**
 * Records what restic's `forget` keeps for a set of snapshot histories and policies, so the
 * retention tests hold drcore's policy to restic's real behaviour rather than to our reading of
 * it: `npx node scripts/restic-forget-cases.ts > test/retention/restic-cases.json`.
 * Needs Debian's restic; runs with TZ=UTC. Histories and policies are ours.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

interface Case { name: string, times: string[], policies: string[][] }

const HOUR = 3_600_000
const iso = (t: number): string => new Date(t).toISOString().replace('.000Z', 'Z')

/** Every 43 hours for a year and a half from 2019-11-20: crosses ISO week 1 of 2020, months and years. */
const irregular = Array.from({ length: 300 }, (_, i) => iso(Date.UTC(2019, 10, 20, 5) + i * 43 * HOUR + (i % 7) * 17 * 60_000))
/** Sundays at 11:00 (restic's documented example). */
const sundays = Array.from({ length: 12 }, (_, i) => iso(Date.UTC(2019, 8, 1, 11) + i * 7 * 24 * HOUR))
/** Bursts: several points in one hour, then gaps of days. */
const bursts = Array.from({ length: 40 }, (_, i) => iso(Date.UTC(2026, 0, 1 + Math.floor(i / 4) * 3, 9, (i % 4) * 10)))

const cases: Case[] = [
  { name: 'twelve Sundays (restic documentation)', times: sundays, policies: [['--keep-daily', '4'], ['--keep-weekly', '2', '--keep-monthly', '2'], ['--keep-last', '3']] },
  {
    name: 'every 43 hours for 18 months',
    times: irregular,
    policies: [
      ['--keep-last', '5'], ['--keep-hourly', '10'], ['--keep-daily', '7'], ['--keep-weekly', '6'], ['--keep-monthly', '13'],
      ['--keep-yearly', '5'], ['--keep-daily', '7', '--keep-weekly', '5', '--keep-monthly', '12', '--keep-yearly', '75'],
      ['--keep-within', '2d'], ['--keep-within', '1m'], ['--keep-within', '1y2m3d4h'], ['--keep-last', '1', '--keep-within', '3d'],
      ['--keep-weekly', '60'], ['--keep-monthly', '100']
    ]
  },
  { name: 'bursts within one hour', times: bursts, policies: [['--keep-hourly', '3'], ['--keep-daily', '5'], ['--keep-last', '6', '--keep-daily', '2']] }
]

function run (args: string[], env: NodeJS.ProcessEnv): string {
  return execFileSync('restic', args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

const histories: Array<{ name: string, times: string[], runs: Array<{ policy: string[], keep: string[] }> }> = []
for (const c of cases) {
  const dir = mkdtempSync(join(tmpdir(), 'restic-cases-'))
  const env = { ...process.env, TZ: 'UTC', RESTIC_REPOSITORY: join(dir, 'repo'), RESTIC_PASSWORD: 'cases' }
  try {
    writeFileSync(join(dir, 'data'), 'x')
    run(['init'], env)
    const runs: Array<{ policy: string[], keep: string[] }> = []
    histories.push({ name: c.name, times: c.times, runs })
    const ids = new Map<string, string>()
    for (const t of c.times) {
      const stamp = t.replace('T', ' ').replace('Z', '')
      const summary = run(['backup', '--json', '--host', 'h', '--time', stamp, join(dir, 'data')], env).trim().split('\n').map(l => JSON.parse(l)).find(m => m.message_type === 'summary')
      ids.set(summary.snapshot_id, t)
    }
    for (const policy of c.policies) {
      const groups = JSON.parse(run(['forget', '--dry-run', '--json', ...policy], env))
      const keep = groups.flatMap((g: any) => (g.keep ?? []).map((s: any) => ids.get(s.short_id))) as string[]
      if (keep.some(t => t === undefined)) throw new Error(`restic kept a snapshot this script did not make: ${JSON.stringify(groups)}`)
      runs.push({ policy, keep: keep.sort() })
      process.stderr.write(`${c.name} ${policy.join(' ')}: keeps ${keep.length} of ${c.times.length}\n`)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
process.stdout.write(JSON.stringify({ restic: run(['version'], process.env).trim(), histories }) + '\n')
