/**
 * Every operation of a Core, declared once. The daemon's HTTP API (`/api/v1`), its OpenAPI
 * document and the CLI's HTTP client are all derived from this table, so the CLI behaves the same
 * whether it opens the repository itself or talks to the running daemon.
 */
export type ParamType = 'string' | 'integer' | 'boolean' | 'string[]' | 'object[]'

export interface ParamSpec {
  type: ParamType
  required?: boolean
  description?: string
}

export interface OperationSpec {
  method: 'GET' | 'POST' | 'DELETE'
  /** path under /api/v1; `{name}` segments are taken from the input */
  path: string
  summary: string
  params: Record<string, ParamSpec>
  /** the response is an NDJSON stream of `{"progress":…}` lines ending with `{"result":…}` */
  progress?: boolean
  /** false: a progress operation that POST /operations/{id}/cancel does not stop (a replication job belongs to its rule) */
  cancellable?: false
  /** needs the running daemon (network); the CLI refuses it when the daemon is not running */
  online?: boolean
}

// each keeps its literal type, so that handlers are typed from the table (api/handler.ts)
const s = (description?: string) => ({ type: 'string', required: false, description }) as const
const req = (description?: string) => ({ type: 'string', required: true, description }) as const
const b = (description?: string) => ({ type: 'boolean', description }) as const
const i = (description?: string) => ({ type: 'integer', description }) as const

/** The `--keep-*` options of forget and retention set. */
const KEEP = {
  keepLast: i('keep the n newest points'),
  keepHourly: i('keep the newest point of each of the last n hours with points'),
  keepDaily: i('... days'),
  keepWeekly: i('... weeks'),
  keepMonthly: i('... months'),
  keepYearly: i('... years'),
  keepWithin: s('keep every point within this duration of the newest, e.g. 30d')
} as const

export const operations = {
  id: { method: 'GET', path: '/id', summary: 'This Core: peer id, name, listening addresses', params: {} },
  status: { method: 'GET', path: '/status', summary: 'Overview: machines, peers, rules, repository size', params: {} },
  backup: {
    method: 'POST',
    path: '/machines/{machine}/backup',
    summary: 'Take a recovery point of a machine',
    progress: true,
    params: {
      machine: req('machine name'),
      volumes: { type: 'object[]', required: true, description: '[{name, path}] absolute paths' },
      base: b('start a new chain'),
      cluster: s('cluster the machine belongs to'),
      rehash: b('re-read unchanged files')
    }
  },
  machines: { method: 'GET', path: '/machines', summary: 'Machines with recovery points on this Core', params: {} },
  points: { method: 'GET', path: '/machines/{machine}/points', summary: "A machine's recovery points, oldest first", params: { machine: req() } },
  ls: {
    method: 'GET',
    path: '/machines/{machine}/ls',
    summary: 'Browse a recovery point',
    params: { machine: req(), path: s('path inside the volume'), point: s('point id or "latest"'), volume: s() }
  },
  restore: {
    method: 'POST',
    path: '/machines/{machine}/restore',
    summary: 'Volume-level or file-level restore',
    progress: true,
    params: { machine: req(), dest: req('absolute destination directory'), point: s(), volume: s(), path: s() }
  },
  verify: { method: 'POST', path: '/verify', summary: "Rehash every block and check every point's closure", progress: true, params: {} },
  repair: {
    method: 'POST',
    path: '/repair',
    summary: 'Rebuild damaged and missing blocks from other copies here and from peers that hold them (peers only while the Core runs)',
    progress: true,
    params: { from: s('ask only this peer') }
  },
  prune: {
    method: 'POST',
    path: '/prune',
    summary: 'Free the blocks no recovery point needs any more, and rewrite mostly dead pack files',
    progress: true,
    params: { dryRun: b('report what would be freed, change nothing') }
  },
  events: { method: 'GET', path: '/events', summary: 'Recent events', params: { since: i('sequence number'), limit: i() } },

  forget: {
    method: 'POST',
    path: '/machines/{machine}/forget',
    summary: "Remove the machine's points a retention policy does not keep (restic's forget); blocks stay until prune",
    params: { machine: req(), ...KEEP, dryRun: b('say what would be removed, remove nothing') }
  },
  retentionShow: { method: 'GET', path: '/retention', summary: "The standing retention policies, and what each machine's next rollup would remove", params: {} },
  retentionSet: {
    method: 'POST',
    path: '/retention',
    summary: "Set a machine's standing retention policy (or the default), applied after every backup and every received point",
    params: { machine: s('machine name; omit with default'), default: b('the policy of every machine without its own'), ...KEEP }
  },
  retentionClear: {
    method: 'DELETE',
    path: '/retention',
    summary: "Remove a machine's standing policy (it falls back to the default), or the default",
    params: { machine: s(), default: b() }
  },
  retentionApply: { method: 'POST', path: '/retention/apply', summary: 'Apply every standing policy now (the rollup of every machine)', params: {} },
  tenants: { method: 'GET', path: '/tenants', summary: "Each peer's tenant on this Core: peers, points, stored bytes, quota and retention lock", params: {} },
  tenantSet: {
    method: 'POST',
    path: '/tenants/{tenant}',
    summary: "Set a tenant's quota and retention lock (only this Core's operator can)",
    params: { tenant: req(), retentionLock: s('a duration such as 30d, or "none"'), quota: s('a size such as 50G, or "none"') }
  },

  peers: { method: 'GET', path: '/peers', summary: 'Known peers', params: {} },
  peerRequests: { method: 'GET', path: '/peers/requests', summary: 'Pending pairing requests', params: {} },
  peerAdd: { method: 'POST', path: '/peers', summary: 'Send a pairing request to a Core', online: true, params: { address: req('multiaddr ending in /p2p/<peerId>'), name: s() } },
  peerApprove: { method: 'POST', path: '/peers/{peer}/approve', summary: 'Approve a pairing request', params: { peer: req(), tenant: s() } },
  peerDeny: { method: 'POST', path: '/peers/{peer}/deny', summary: 'Deny a pairing request', params: { peer: req() } },
  peerIgnore: { method: 'POST', path: '/peers/{peer}/ignore', summary: 'Drop a pairing request without answering', params: { peer: req() } },
  peerAllow: { method: 'POST', path: '/peers/allow', summary: 'Pre-approve a peer', params: { peerId: req(), name: s(), tenant: s(), address: s() } },
  peerRemove: { method: 'DELETE', path: '/peers/{peer}', summary: 'Forget a peer', params: { peer: req() } },
  peerSet: { method: 'POST', path: '/peers/{peer}/set', summary: 'Rename a peer', params: { peer: req(), name: s('the new name') } },
  peerRemoveAddress: {
    method: 'DELETE',
    path: '/peers/{peer}/addresses',
    summary: 'Forget one address of a peer',
    params: { peer: req(), address: req('multiaddr, with or without /p2p/<peerId>') }
  },

  ruleAdd: {
    method: 'POST',
    path: '/replication',
    summary: 'Add a replication rule',
    params: {
      machine: req(),
      to: req('peer'),
      schedule: s('after-backup or a cron expression'),
      window: s('HH:MM-HH:MM'),
      paused: b(),
      seedDrive: b(),
      limit: s('rate, e.g. 10M (bytes/s)'),
      streams: i('streams that carry a point\'s blocks at once, 1 to 16 (default 1); the limit is their total')
    }
  },
  rules: { method: 'GET', path: '/replication', summary: 'Replication rules and their state', params: {} },
  rulePause: { method: 'POST', path: '/replication/{machine}/{to}/pause', summary: 'Pause a rule', params: { machine: req(), to: req() } },
  ruleResume: { method: 'POST', path: '/replication/{machine}/{to}/resume', summary: 'Resume a rule', params: { machine: req(), to: req() } },
  ruleSet: {
    method: 'POST',
    path: '/replication/{machine}/{to}/set',
    summary: "Change a rule's schedule, window, limit or streams; its counters stay",
    params: {
      machine: req(),
      to: req(),
      schedule: s('after-backup or a cron expression'),
      window: s('HH:MM-HH:MM, or none'),
      limit: s('rate, e.g. 10M (bytes/s), or none'),
      streams: i('streams that carry a point\'s blocks at once, 1 to 16')
    }
  },
  ruleNow: {
    method: 'POST',
    path: '/replication/{machine}/{to}/now',
    summary: 'Replicate now, outside the window and schedule; waits for the job unless wait is false',
    progress: true,
    cancellable: false,
    online: true,
    params: { machine: req(), to: req(), wait: b('wait for the job to end (default true)') }
  },
  ruleRemove: { method: 'DELETE', path: '/replication/{machine}/{to}', summary: 'Remove a rule', params: { machine: req(), to: req(), deleteRemote: b() } },
  fetch: {
    method: 'POST',
    path: '/machines/{machine}/fetch',
    summary: "Copy a machine's points back from a peer",
    progress: true,
    online: true,
    params: { machine: req(), from: req('peer'), point: s() }
  },

  seedCreate: {
    method: 'POST',
    path: '/seeds',
    summary: 'Write a seed drive',
    progress: true,
    params: { out: req('directory'), machines: { type: 'string[]' }, all: b(), to: s('peer'), maxSize: s('e.g. 4G') }
  },
  seeds: { method: 'GET', path: '/seeds', summary: 'Outstanding and consumed seed drives', params: {} },
  seedAbandon: { method: 'POST', path: '/seeds/{seed}/abandon', summary: 'Abandon a seed drive', params: { seed: req() } },
  seedConsume: { method: 'POST', path: '/seeds/consume', summary: 'Import a seed drive', progress: true, params: { dir: req('directory holding the parts') } }
} satisfies Record<string, OperationSpec>

export type OperationName = keyof typeof operations

/** A progress report from a long operation. */
export interface Progress {
  /** what is being done, e.g. 'backup', 'restore', 'verify' */
  phase: string
  done: number
  total?: number
  /** unit of done/total */
  unit: 'bytes' | 'blocks' | 'files' | 'points' | 'packs'
  detail?: string
}

export type ProgressFn = (p: Progress) => void
