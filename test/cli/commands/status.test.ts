import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { chainGlyphs, formatStatus } from '../../../src/cli/commands/status.ts'
import type { Overview, PointOverview } from '../../../src/status/index.ts'
import { drcore, drcoreJson } from '../../support/daemon.ts'
import { tempDir, removeDir } from '../../support/dirs.ts'

function pt (seq: number, kind: 'base' | 'incremental', complete = true): PointOverview {
  return { point: `p${seq}`, seq, kind, parent: null, complete, missingBlocks: complete ? 0 : 3, skipped: 0, createdAt: '2026-01-01T00:00:00.000Z', receivedAt: null, parentPresent: null, origin: { peerId: 'o', name: null }, tenant: '', files: 1, bytes: 1 }
}

test('a chain prints as glyphs: B base image, i incremental, o orphan, | before a new chain, … for older points', () => {
  assert.equal(chainGlyphs({ pointCount: 3, points: [pt(1, 'base'), pt(2, 'incremental'), pt(3, 'incremental', false)] }), 'B i o')
  assert.equal(chainGlyphs({ pointCount: 4, points: [pt(1, 'base', false), pt(2, 'incremental', false), pt(3, 'base'), pt(4, 'incremental')] }), 'o o | B i')
  const long = Array.from({ length: 50 }, (_, i) => pt(i + 1, i === 0 ? 'base' : 'incremental'))
  const glyphs = chainGlyphs({ pointCount: 200, points: long })
  assert.ok(glyphs.startsWith('… i i'))
  assert.equal(glyphs.split(' ').length, 41)
  const forgotten = { ...pt(3, 'incremental'), parentPresent: false }
  assert.equal(chainGlyphs({ pointCount: 2, points: [pt(1, 'base'), forgotten] }), 'B : i', 'a point whose parent was forgotten')
})

test('the text overview names machines with counts, peers with health, rules with lag', () => {
  const o: Overview = {
    core: { peerId: '12D3KooWSelf', name: 'hq', online: true, addresses: [] },
    generatedAt: '2026-01-01T00:00:00.000Z',
    repository: { blocks: 10, logicalBytes: 10 * 1024 * 1024, rawBytes: 4 * 1024 * 1024, storedBytes: 2 * 1024 * 1024, packs: 1, packBytes: 2 * 1024 * 1024, dedupRatio: 2.5, compressionRatio: 2, reductionRatio: 5, measuredAt: '' },
    machines: [{ machine: 'db01', tenant: 'siteB', origin: { peerId: '12D3KooWPeerB', name: 'siteB' }, cluster: null, direction: 'incoming', receivedFrom: { peerId: '12D3KooWPeerB', name: 'siteB' }, pointCount: 2, complete: 1, orphans: 1, logicalBytes: 2, points: [pt(1, 'base', false), pt(2, 'incremental')], retention: { policy: null, policySource: null, wouldRemove: [], locked: 0, lockedUntil: null } }],
    peers: [{ peerId: '12D3KooWPeerB', name: 'siteB', state: 'approved', tenant: 'siteB', online: true, addresses: [], accepts: true, canSendTo: true, announcedName: null, requestedAt: null, askedAt: null, health: 'connected', healthReason: 'connected' }],
    pendingRequests: 2,
    rules: [{ machine: 'web01', to: { peerId: '12D3KooWPeerB', name: 'siteB' }, state: 'idle', schedule: 'after-backup', lastPoint: null, pointsBehind: 1, bytesSent: 2048, error: null, lagSeconds: 3720 }],
    seeds: [],
    defaultPolicy: null,
    tenants: [{ tenant: 'siteB', peers: [], points: 2, storedBytes: 512 * 1024, quota: 1024 * 1024, retentionLock: '30d', blocks: 3, lockedPoints: 2, lockedUntil: '2026-01-31T00:00:00.000Z' }]
  }
  const text = formatStatus(o, true)
  assert.match(text, /^Core hq \(12D3KooWSelf\) {2}running$/m)
  assert.match(text, /2\.00 MiB stored for 10\.0 MiB protected \(dedup 2\.50x, compression 2\.00x, total 5\.00x\)/)
  assert.match(text, /db01 +siteB +siteB +2: 1 complete, 1 orphan +o i +-$/m)
  assert.match(text, /PEERS {2}\(2 pending requests: drcore peer requests\)/)
  assert.match(text, /siteB +connected +approved +connected/)
  assert.match(text, /web01 +siteB +idle +after-backup +1 +1h02m +2\.00 KiB/)
  assert.match(text, /TENANTS\n.*\n +siteB +2 +512\.0 KiB +1\.00 MiB \(50%\) +30d \(2 points until 2026-01-31T00:00:00\.000Z\)$/m)
})

test('with packs in an object store, the overview names the bucket and its requests, errors, retries and cache', () => {
  const o = {
    core: { peerId: '12D3KooWSelf', name: 'hq', online: true, addresses: [] },
    generatedAt: '',
    repository: {
      blocks: 10,
      logicalBytes: 10,
      rawBytes: 10,
      storedBytes: 10,
      packs: 3,
      packBytes: 3 * 1024 * 1024,
      dedupRatio: 1,
      compressionRatio: 1,
      reductionRatio: 1,
      measuredAt: '',
      objectStore: { kind: 's3', location: 's3://dr/hq', requests: { PutObjectCommand: 4, GetObjectCommand: 9 }, errors: { GetObjectCommand: 1 }, retries: 3, bytesUploaded: 2 * 1024 * 1024, bytesDownloaded: 1024, cache: { bytes: 0, limit: 256 * 1024 * 1024, hits: 7, misses: 2 } }
    },
    machines: [],
    peers: [],
    pendingRequests: 0,
    rules: [],
    seeds: [],
    tenants: [],
    defaultPolicy: null
  } as unknown as Overview
  assert.match(formatStatus(o, true), /^Packs in {3}s3:\/\/dr\/hq: 3 objects, 3\.00 MiB; since start 13 requests, 1 errors, 3 retries, 2\.00 MiB up, 1\.00 KiB down; cache 0 B of 256\.0 MiB \(7 hits, 2 misses\)$/m)
  const local = { ...o, repository: { ...o.repository, objectStore: undefined } }
  assert.doesNotMatch(formatStatus(local, true), /Packs in/)
})

test('drcore status works on a stopped Core and --json is the overview', async () => {
  const work = await tempDir()
  try {
    const repo = join(work, 'repo')
    await drcoreJson(['init', '--repo', repo, '--name', 'hq'])
    await mkdir(join(work, 'data'))
    await writeFile(join(work, 'data', 'f'), 'x'.repeat(5000))
    await drcoreJson(['backup', 'web01', join(work, 'data'), '--repo', repo])
    const text = await drcore(['status', '--repo', repo])
    assert.equal(text.code, 0, text.stderr)
    assert.match(text.stdout, /not running \(read from the repository\)/)
    assert.match(text.stdout, /web01 +this Core +\(own\) +1: 1 complete +B +-$/m)
    const o = await drcoreJson(['status', '--repo', repo])
    assert.equal(o.core.name, 'hq')
    assert.equal(o.machines[0].pointCount, 1)
    assert.equal(o.repository.logicalBytes, 5000)
  } finally {
    await removeDir(work)
  }
})
