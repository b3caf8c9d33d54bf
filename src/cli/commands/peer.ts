import type { Command } from 'commander'
import { withCore } from '../connect.ts'
import { withCommonOptions } from '../common.ts'
import type { CommonOptions } from '../common.ts'
import { printJson, printTable, shortId } from '../output.ts'
import type { PeerInfo } from '../../peers/index.ts'

function printPeers (rows: PeerInfo[], json: boolean | undefined, empty: string): void {
  if (json === true) return printJson(rows)
  printTable(rows, [
    { header: 'name', value: r => r.name },
    { header: 'peer id', value: r => r.peerId },
    { header: 'state', value: r => r.state },
    { header: 'sends to us', value: r => r.accepts ? 'yes' : 'no' },
    { header: 'we send', value: r => r.canSendTo ? 'yes' : 'no' },
    { header: 'tenant', value: r => r.tenant },
    { header: 'online', value: r => r.online ? 'yes' : 'no' },
    { header: 'address', value: r => r.addresses[0] }
  ], empty)
}

function printPeer (verb: string, peer: PeerInfo, json: boolean | undefined): void {
  if (json === true) return printJson(peer)
  process.stdout.write(`${verb} ${peer.name ?? shortId(peer.peerId)} (${peer.peerId}): ${peer.state}${peer.tenant != null ? `, tenant ${peer.tenant}` : ''}\n`)
}

export function register (program: Command): void {
  const peer = program.command('peer').description('pair with other Cores: requests, approvals, tenants')

  withCommonOptions(peer.command('add'))
    .description('send a pairing request to the Core at MULTIADDR (ending in /p2p/<peerId>)')
    .argument('<multiaddr>')
    .option('--name <name>', 'what to call this peer here')
    .action(async (address: string, opts: CommonOptions & { name?: string }) => {
      const peer: PeerInfo = await withCore(opts.repo, async core => await core.call('peerAdd', { address, name: opts.name }))
      printPeer('asked', peer, opts.json)
      if (opts.name != null && peer.name !== opts.name) {
        process.stderr.write(`note: this Core knows the peer as ${peer.name}; it keeps that name (drcore peer set ${peer.name} --name ${opts.name} renames it)\n`)
      }
    })

  withCommonOptions(peer.command('set'))
    .description('change what this Core calls a peer (rules and listings follow the new name)')
    .argument('<peer>', 'peer id or name')
    .option('--name <name>', 'the new name')
    .action(async (p: string, opts: CommonOptions & { name?: string }) => {
      printPeer('set', await withCore(opts.repo, async core => await core.call('peerSet', { peer: p, name: opts.name })), opts.json)
    })

  withCommonOptions(peer.command('remove-address'))
    .description('forget one address of a peer (peer list --json shows them all)')
    .argument('<peer>', 'peer id or name')
    .argument('<multiaddr>', 'the address, with or without /p2p/<peerId>')
    .action(async (p: string, address: string, opts: CommonOptions) => {
      const peer: PeerInfo = await withCore(opts.repo, async core => await core.call('peerRemoveAddress', { peer: p, address }))
      if (opts.json === true) return printJson(peer)
      process.stdout.write(`removed the address; ${peer.name ?? peer.peerId} has ${peer.addresses.length === 0 ? 'no address left (it is reached when it connects)' : peer.addresses.join(', ')}\n`)
    })

  withCommonOptions(peer.command('requests'))
    .description('pairing requests waiting for a decision on this Core')
    .action(async (opts: CommonOptions) => {
      printPeers(await withCore(opts.repo, async core => await core.call('peerRequests')), opts.json, 'no pending requests')
    })

  withCommonOptions(peer.command('approve'))
    .description('approve a request: the peer may send its recovery points here (into its tenant) and fetch them back')
    .argument('<peer>', 'peer id or name')
    .option('--tenant <name>', "tenant the peer's points land in (default: its name)")
    .action(async (p: string, opts: CommonOptions & { tenant?: string }) => {
      printPeer('approved', await withCore(opts.repo, async core => await core.call('peerApprove', { peer: p, tenant: opts.tenant })), opts.json)
    })

  withCommonOptions(peer.command('deny'))
    .description('deny a request (the peer is told, and its connections are refused)')
    .argument('<peer>', 'peer id or name')
    .action(async (p: string, opts: CommonOptions) => {
      printPeer('denied', await withCore(opts.repo, async core => await core.call('peerDeny', { peer: p })), opts.json)
    })

  withCommonOptions(peer.command('ignore'))
    .description('drop a request without answering (the peer may ask again later)')
    .argument('<peer>', 'peer id or name')
    .action(async (p: string, opts: CommonOptions) => {
      const r = await withCore(opts.repo, async core => await core.call('peerIgnore', { peer: p }))
      if (opts.json === true) printJson(r)
      else process.stdout.write(`ignored the request of ${p}\n`)
    })

  withCommonOptions(peer.command('allow'))
    .description('pre-approve a peer so its pairing request is accepted at once (a self-managed target)')
    .argument('<peerId>')
    .option('--name <name>', 'what to call this peer here')
    .option('--tenant <name>', "tenant the peer's points land in (default: its name)")
    .option('--address <multiaddr>', 'where to reach it')
    .action(async (peerId: string, opts: CommonOptions & { name?: string, tenant?: string, address?: string }) => {
      printPeer('allowed', await withCore(opts.repo, async core => await core.call('peerAllow', { peerId, name: opts.name, tenant: opts.tenant, address: opts.address })), opts.json)
    })

  withCommonOptions(peer.command('list'))
    .description('every known peer and the state of the pairing in each direction')
    .action(async (opts: CommonOptions) => {
      printPeers(await withCore(opts.repo, async core => await core.call('peers')), opts.json, 'no peers yet: add one with drcore peer add <multiaddr>')
    })

  withCommonOptions(peer.command('remove'))
    .description('forget a peer (its replicated points stay until removed)')
    .argument('<peer>', 'peer id or name')
    .action(async (p: string, opts: CommonOptions) => {
      printPeer('removed', await withCore(opts.repo, async core => await core.call('peerRemove', { peer: p })), opts.json)
    })
}
