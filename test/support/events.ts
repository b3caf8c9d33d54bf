/**
 * Whole payloads for tests that emit events themselves (event stream, metrics, the log): the
 * event map types every field, so a test states the ones it is about and takes the rest here.
 */
import type { EventMap, ReplicationProgressData } from '../../src/events/api.ts'

export function backupFinished (machine: string, point = 'point-1'): EventMap['backup.finished'] {
  return { point, machine, kind: 'base', parent: null, seq: 1, files: 0, bytes: 0, newBytes: 0, storedBytes: 0, skipped: [], partial: false, changed: [], healed: 0, repaired: [], seconds: 0 }
}

export function pairing (peerId: string, by: 'local' | 'remote' = 'local'): EventMap['pairing.requested'] {
  return { peerId, name: null, by }
}

export function jobStarted (machine: string, to: string): EventMap['replication.started'] {
  return { machine, to, points: 1 }
}

export function jobFinished (machine: string, to: string, done: { bytes?: number, blocks?: number } = {}): EventMap['replication.finished'] {
  return { machine, to, points: 1, sent: [], bytes: done.bytes ?? 0, blocks: done.blocks ?? 0, seconds: 1, streams: 1, lastPoint: null, pointsBehind: 0, blocked: [] }
}

export function jobFailed (machine: string, to: string, error: string): EventMap['replication.failed'] {
  return { machine, to, error, points: 0, sent: [], bytes: 0, blocks: 0, seconds: 1 }
}

export function jobProgress (machine: string, to: string, bytesSent: number): ReplicationProgressData {
  return { machine, to, point: 'point-1', pointIndex: 1, points: 1, bytesSent, blocksSent: 1, rate: 0, startedAt: new Date(0).toISOString(), done: false }
}
