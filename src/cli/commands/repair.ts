import type { Command } from 'commander'
import { runLong, withDetach } from '../long-operation.ts'
import type { LongOptions } from '../long-operation.ts'
import { withCommonOptions } from '../common.ts'
import { formatBytes } from '../../common/sizes.ts'
import { peerText, printJson } from '../output.ts'
import type { RepairReport } from '../../repair/index.ts'

export function register (program: Command): void {
  withDetach(withCommonOptions(program.command('repair')))
    .description('rebuild damaged and missing blocks (found by drcore verify) from other copies in this repository and from peers that hold them; peers are asked only while the Core runs')
    .option('--from <peer>', 'ask only this peer (name or peer id); default: the peers each point came from or is replicated to')
    .action(async (opts: LongOptions & { from?: string }) => {
      const r = await runLong<RepairReport>(opts, 'repair', { from: opts.from }, 'the repair', 'the blocks repaired so far stay repaired')
      if (r === undefined) return
      if (!r.ok) process.exitCode = 1
      if (opts.json === true) return printJson(r)
      process.stdout.write(describeRepair(r))
    })
}

/** The human report: one line per point, then what came from where. */
export function describeRepair (r: RepairReport): string {
  if (r.points.length === 0 && r.quarantined === 0 && r.reinstated === 0 && r.foundLocally === 0) {
    return 'nothing to repair: no point is damaged and no block waits in quarantine (drcore verify finds damage)\n'
  }
  const lines: string[] = []
  for (const p of r.points) {
    const machine = p.tenant === '' ? p.machine : `${p.tenant}/${p.machine}`
    const source = p.from.length > 0 ? `from ${p.from.map(peerText).join(', ')}` : 'from copies in this repository'
    lines.push(p.state === 'whole'
      ? `point ${p.point} of ${machine}: whole again (${source})`
      : `point ${p.point} of ${machine}: still damaged, ${p.missingBlocks} block${p.missingBlocks === 1 ? '' : 's'} missing`)
  }
  const whole = r.points.filter(p => p.state === 'whole').length
  const fetched = r.peers.filter(p => p.blocks > 0).map(p => `${peerText(p)}: ${p.blocks} block${p.blocks === 1 ? '' : 's'}, ${formatBytes(p.bytes)}`)
  lines.push(`repaired ${whole} of ${r.points.length} damaged point${r.points.length === 1 ? '' : 's'}: ${r.reinstated} block${r.reinstated === 1 ? '' : 's'} read well again, ` +
    `${r.foundLocally} found in this repository's packs, ${r.fetched} fetched${fetched.length > 0 ? ` (${fetched.join('; ')})` : ''}`)
  for (const p of r.peers) if (p.error !== null) lines.push(`could not repair from ${peerText(p)}: ${p.error}`)
  if (r.peersNotAsked !== null) lines.push(r.peersNotAsked)
  if (r.quarantined > 0) lines.push(`${r.quarantined} damaged block${r.quarantined === 1 ? '' : 's'} still wait${r.quarantined === 1 ? 's' : ''} for a good copy (a backup of the same data, a replication, a seed drive or drcore repair --from a peer that holds it)`)
  return lines.join('\n') + '\n'
}
