import type { Command } from 'commander'
import { withCore } from '../connect.ts'
import { withCommonOptions } from '../common.ts'
import type { CommonOptions } from '../common.ts'
import { formatBytes } from '../../common/sizes.ts'
import { printJson, printTable } from '../output.ts'
import type { TenantRow } from '../../core/handlers/retention.ts'

export function register (program: Command): void {
  const tenant = program.command('tenant').description("the tenants on this Core (its peers' points): use, quota, retention lock")

  withCommonOptions(tenant.command('list'))
    .description('each tenant with its peers, points, stored bytes, quota and retention lock')
    .action(async (opts: CommonOptions) => {
      const rows: TenantRow[] = await withCore(opts.repo, async core => await core.call('tenants'))
      if (opts.json === true) return printJson(rows)
      printTable(rows, [
        { header: 'tenant', value: r => r.tenant },
        { header: 'peers', value: r => r.peers.map(p => p.name ?? p.peerId).join(',') || '-' },
        { header: 'points', value: r => r.points },
        { header: 'stored', value: r => formatBytes(r.storedBytes) },
        { header: 'quota', value: r => r.quota === null ? 'none' : `${formatBytes(r.quota)} (${Math.round((r.storedBytes / r.quota) * 100)} %)` },
        { header: 'retention lock', value: r => r.retentionLock === null ? 'none' : r.lockedPoints > 0 ? `${r.retentionLock} (${r.lockedPoints} points until ${r.lockedUntil})` : r.retentionLock }
      ], 'no tenants: approve a peer (drcore peer approve) to host its points')
    })

  withCommonOptions(tenant.command('set'))
    .description("set a tenant's quota and retention lock (no peer can change them)")
    .argument('<tenant>', 'tenant name (drcore tenant list)')
    .option('--retention-lock <duration>', 'its points received less than this long ago cannot be deleted, by its peers or by this Core\'s policies (e.g. 30d; none lifts it)')
    .option('--quota <size>', 'most bytes its blocks may take here (e.g. 50G; none removes it)')
    .action(async (name: string, opts: CommonOptions & { retentionLock?: string, quota?: string }) => {
      const r: TenantRow = await withCore(opts.repo, async core => await core.call('tenantSet', { tenant: name, retentionLock: opts.retentionLock, quota: opts.quota }))
      if (opts.json === true) return printJson(r)
      process.stdout.write(`tenant ${r.tenant}: quota ${r.quota === null ? 'none' : formatBytes(r.quota)} (${formatBytes(r.storedBytes)} stored), retention lock ${r.retentionLock ?? 'none'}` +
        `${r.lockedPoints > 0 ? ` (keeps ${r.lockedPoints} points until ${r.lockedUntil})` : ''}\n`)
    })
}
