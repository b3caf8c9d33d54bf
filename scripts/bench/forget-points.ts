/**
 * `drcore forget MACHINE --keep-last N` for a drcore without the forget command (the garbage
 * collector's branch before the retention work is merged in): removes the machine's points but
 * its newest N from the point index (PointIndex.remove in this Core's own tenant, as forget
 * does), and prints `{"kept": [ids], "removed": [ids]}` like `forget --json`. The prune section
 * runs it only when `drcore forget --help` fails; its time is not forget's.
 *
 * Usage: node scripts/bench/forget-points.ts REPO MACHINE KEEP_LAST
 */
import { OfflineCore } from '../../src/core/index.ts'

const [repo, machine, keep] = process.argv.slice(2)
const keepLast = Number(keep)
if (repo === undefined || machine === undefined || !Number.isInteger(keepLast) || keepLast < 1) {
  process.stderr.write('usage: node scripts/bench/forget-points.ts REPO MACHINE KEEP_LAST\n')
  process.exit(2)
}
const core = await OfflineCore.open(repo)
try {
  const ref = await core.points.findMachine(machine)
  if (ref.tenant !== '') throw new Error(`machine ${machine} is not this Core's own (tenant ${ref.tenant})`)
  const points = await core.points.points(ref)
  const kept = points.slice(-keepLast).map(p => p.point)
  const removed = points.slice(0, Math.max(0, points.length - keepLast)).map(p => p.point)
  for (const id of removed) await core.points.remove(id, '')
  process.stdout.write(JSON.stringify({ kept, removed }) + '\n')
} finally {
  await core.close()
}
