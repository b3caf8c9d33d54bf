import type { Command } from 'commander'
import { withCore } from '../connect.ts'
import { withCommonOptions } from '../common.ts'
import type { CommonOptions } from '../common.ts'
import { formatBytes } from '../../common/sizes.ts'
import { formatTable, printJson, shortId, peerText } from '../output.ts'
import type { Column } from '../output.ts'
import type { MachineOverview, Overview } from '../../status/index.ts'
import { describePolicy } from '../../retention/view.ts'

/** Glyphs of a chain, newest last: at most this many, older ones elided. */
const GLYPHS = 40

export function register (program: Command): void {
  withCommonOptions(program.command('status'))
    .description('overview: machines and their chains, repository size, peers, replication rules, seed drives')
    .action(async (opts: CommonOptions) => {
      const { overview, viaDaemon } = await withCore(opts.repo, async core => ({ overview: await core.call('status') as Overview, viaDaemon: core.viaDaemon }))
      if (opts.json === true) return printJson(overview)
      process.stdout.write(formatStatus(overview, viaDaemon))
    })
}

/** `B` base image, `i` incremental, `o` orphan (blocks missing); `|` starts a new chain. */
export function chainGlyphs (m: Pick<MachineOverview, 'points' | 'pointCount'>): string {
  const shown = m.points.slice(-GLYPHS)
  // ':' before a point whose parent was forgotten (its closure is its own: it stays restorable)
  const glyphs = shown.map((p, i) => (p.kind === 'base' && i > 0 ? '| ' : p.parentPresent === false ? ': ' : '') + (!p.complete ? 'o' : p.kind === 'base' ? 'B' : 'i'))
  return (m.pointCount > shown.length ? '… ' : '') + glyphs.join(' ')
}

export function formatStatus (o: Overview, viaDaemon: boolean): string {
  const out: string[] = []
  const write = (line = ''): void => { out.push(line) }
  const r = o.repository
  write(`Core ${o.core.name} (${o.core.peerId})  ${viaDaemon ? 'running' : 'not running (read from the repository)'}`)
  const ratios = [`dedup ${ratio(r.dedupRatio)}`, `compression ${ratio(r.compressionRatio)}`, `total ${ratio(r.reductionRatio)}`].join(', ')
  write(`Repository  ${formatBytes(r.storedBytes)} stored for ${formatBytes(r.logicalBytes)} protected (${ratios}), ${r.blocks} blocks`)
  const s3 = r.objectStore
  if (s3 !== undefined) {
    const sum = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0)
    write(`Packs in   ${s3.location}: ${r.packs} objects, ${formatBytes(r.packBytes)}; since start ${sum(s3.requests)} requests, ${sum(s3.errors)} errors, ${s3.retries} retries, ${formatBytes(s3.bytesUploaded)} up, ${formatBytes(s3.bytesDownloaded)} down; cache ${formatBytes(s3.cache.bytes)} of ${formatBytes(s3.cache.limit)} (${s3.cache.hits} hits, ${s3.cache.misses} misses)`)
  }
  write()
  write('MACHINES  (B base image, i incremental, o orphan, | new chain, : parent forgotten)')
  if (o.machines.length === 0) write('(none: take a recovery point with drcore backup)')
  const table = indentedTable(o.machines, [
    { header: 'machine', value: m => m.machine },
    { header: 'from', value: m => m.direction === 'local' ? 'this Core' : peerText(m.origin) },
    { header: 'tenant', value: m => m.tenant === '' ? '(own)' : m.tenant },
    { header: 'points', value: m => `${m.pointCount}: ${m.complete} complete${m.orphans > 0 ? `, ${m.orphans} orphan${m.orphans > 1 ? 's' : ''}` : ''}` },
    { header: 'chain', value: m => chainGlyphs(m) },
    { header: 'retention', value: m => m.retention.policy === null ? '-' : `${describePolicy(m.retention.policy)}${m.retention.policySource === 'default' ? ' (default)' : ''}; next rollup removes ${m.retention.wouldRemove.length}` }
  ])
  if (o.machines.length > 0) out.push(...table)
  write()
  write(`PEERS${o.pendingRequests > 0 ? `  (${o.pendingRequests} pending request${o.pendingRequests > 1 ? 's' : ''}: drcore peer requests)` : ''}`)
  if (o.peers.length === 0) write('(none: drcore peer add <multiaddr>)')
  else {
    out.push(...indentedTable(o.peers, [
      { header: 'name', value: p => p.name ?? shortId(p.peerId) },
      { header: 'health', value: p => p.health },
      { header: 'state', value: p => p.state },
      { header: 'detail', value: p => p.healthReason }
    ]))
  }
  write()
  write('RULES')
  if (o.rules.length === 0) write('(none: drcore replicate <machine> --to <peer>)')
  else {
    out.push(...indentedTable(o.rules, [
      { header: 'machine', value: x => x.machine },
      { header: 'to', value: x => peerText(x.to) },
      { header: 'state', value: x => x.state + (x.error != null ? `: ${x.error}` : '') },
      { header: 'schedule', value: x => x.schedule + (x.window != null ? ` ${x.window}` : '') },
      { header: 'behind', value: x => x.pointsBehind ?? '-' },
      { header: 'lag', value: x => x.lagSeconds == null ? '-' : duration(x.lagSeconds) },
      { header: 'sent', value: x => formatBytes(x.bytesSent) },
      { header: 'last point', value: x => shortId(x.lastPoint) }
    ]))
  }
  if (o.tenants.length > 0) {
    write()
    write('TENANTS')
    out.push(...indentedTable(o.tenants, [
      { header: 'tenant', value: t => t.tenant },
      { header: 'points', value: t => t.points },
      { header: 'stored', value: t => formatBytes(t.storedBytes) },
      { header: 'quota', value: t => t.quota === null ? 'none' : `${formatBytes(t.quota)} (${Math.round(t.storedBytes / t.quota * 100)}%)` },
      { header: 'retention lock', value: t => t.retentionLock === null ? 'none' : t.lockedPoints > 0 ? `${t.retentionLock} (${t.lockedPoints} points until ${t.lockedUntil})` : t.retentionLock }
    ]))
  }
  if (o.seeds.length > 0) {
    write()
    write('SEED DRIVES')
    out.push(...indentedTable(o.seeds, [
      { header: 'seed', value: x => shortId(x.seed) },
      { header: 'direction', value: x => x.direction },
      { header: 'state', value: x => x.state },
      { header: 'machines', value: x => x.machines.join(',') },
      { header: 'points', value: x => x.points },
      { header: 'parts', value: x => x.missingParts.length > 0 ? `${x.parts} (missing ${x.missingParts.join(',')})` : x.parts }
    ]))
  }
  return out.join('\n') + '\n'
}

/** An indented table. */
function indentedTable<T> (rows: T[], columns: Array<Column<T>>): string[] {
  return formatTable(rows, columns).map(l => '  ' + l)
}

function ratio (r: number | null): string {
  return r == null ? '-' : `${r.toFixed(2)}x`
}

function duration (seconds: number): string {
  if (seconds < 60) return `${seconds}s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h${String(Math.floor(seconds % 3600 / 60)).padStart(2, '0')}m`
  return `${Math.floor(seconds / 86400)}d${Math.floor(seconds % 86400 / 3600)}h`
}
