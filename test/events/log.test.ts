import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Level } from 'level'
import { EventLog } from '../../src/events/log.ts'
import type { CoreEvent } from '../../src/events/api.ts'
import { tempDir, removeDir } from '../support/dirs.ts'
import { backupFinished, jobFinished, jobProgress, jobStarted } from '../support/events.ts'

test('published events reach live listeners but are never stored; emitted ones are both', { timeout: 10_000 }, async () => {
  const dir = await tempDir()
  const db = new Level<string, any>(dir, { valueEncoding: 'json' })
  try {
    const log = new EventLog(db)
    await log.start()
    const seen: CoreEvent[] = []
    const stop = log.subscribe(e => seen.push(e))
    log.emit('replication.started', 'job started', jobStarted('web01', 'dr'))
    log.publish('replication.progress', '1 MiB of 4 MiB', jobProgress('web01', 'dr', 1 << 20))
    log.emit('replication.finished', 'job finished', jobFinished('web01', 'dr'))
    stop()
    log.publish('replication.progress', 'after unsubscribe', jobProgress('web01', 'dr', 2 << 20))
    assert.deepEqual(seen.map(e => [e.type, e.seq]), [['replication.started', 1], ['replication.progress', 0], ['replication.finished', 2]])
    const progress = seen[1]
    assert.ok(progress.type === 'replication.progress')
    assert.equal(progress.data.bytesSent, 1 << 20)
    const stored = await log.list()
    assert.deepEqual(stored.map(e => e.type), ['replication.started', 'replication.finished'])
  } finally {
    await db.close()
    await removeDir(dir)
  }
})

test('list returns the newest events oldest first, or the events after a sequence number', { timeout: 10_000 }, async () => {
  const dir = await tempDir()
  const db = new Level<string, any>(dir, { valueEncoding: 'json' })
  try {
    const log = new EventLog(db)
    await log.start()
    for (let i = 1; i <= 5; i++) log.emit('backup.finished', `point ${i}`, backupFinished('web01', `point-${i}`))
    assert.deepEqual((await log.list()).map(e => e.seq), [1, 2, 3, 4, 5])
    assert.deepEqual((await log.list({ limit: 2 })).map(e => e.seq), [4, 5])
    assert.deepEqual((await log.list({ since: 3 })).map(e => e.seq), [4, 5])
    assert.deepEqual((await log.list({ since: 1, limit: 2 })).map(e => e.seq), [2, 3])
    const reopened = new EventLog(db)
    await reopened.start()
    reopened.emit('backup.finished', 'point 6', backupFinished('web01', 'point-6'))
    assert.equal((await reopened.list({ since: 5 }))[0].seq, 6, 'sequence numbers continue after a restart')
  } finally {
    await db.close()
    await removeDir(dir)
  }
})

test('a write the log cannot make is counted and told once per run of failures, never thrown at the emitter', { timeout: 10_000 }, async () => {
  const dir = await tempDir()
  const db = new Level<string, any>(dir, { valueEncoding: 'json' })
  const full = (): void => { throw new Error('No space left on device') }
  try {
    const told: string[] = []
    const log = new EventLog(db, { warn: line => told.push(line) })
    await log.start()
    const seen: string[] = []
    log.on('backup.finished', e => seen.push(e.data.machine))
    db.hooks.prewrite.add(full)
    for (const machine of ['web01', 'web02', 'web03']) log.emit('backup.finished', 'taken', backupFinished(machine))
    await log.flush()
    assert.equal(log.writeFailures, 3)
    assert.equal(told.length, 1, 'one line for the run of failures, not one per event')
    assert.match(told[0], /^the event log could not store event 1 \(backup\.finished\): .*No space left on device.*drcore_event_log_write_failures_total/)
    assert.deepEqual(seen, ['web01', 'web02', 'web03'], 'live listeners still hear every event')

    db.hooks.prewrite.delete(full)
    log.emit('backup.finished', 'taken', backupFinished('web04'))
    await log.flush()
    assert.deepEqual((await log.list()).map(e => e.type === 'backup.finished' ? e.data.machine : e.type), ['web04'])
    assert.equal(log.writeFailures, 3)

    db.hooks.prewrite.add(full)
    log.emit('backup.finished', 'taken', backupFinished('web05'))
    await log.flush()
    assert.equal(log.writeFailures, 4)
    assert.equal(told.length, 2, 'a success ended the first run: the next failure is told again')
    assert.match(told[1], /could not store event 5 \(backup\.finished\)/)
  } finally {
    db.hooks.prewrite.delete(full)
    await db.close()
    await removeDir(dir)
  }
})

test('a listener that throws is told on stderr; the emitter and the other listeners go on', { timeout: 10_000 }, async () => {
  const dir = await tempDir()
  const db = new Level<string, any>(dir, { valueEncoding: 'json' })
  try {
    const told: string[] = []
    const log = new EventLog(db, { warn: line => told.push(line) })
    await log.start()
    const heard: number[] = []
    log.on('backup.finished', () => { throw new Error('listener bug') })
    log.on('backup.finished', e => heard.push(e.seq))
    log.on('replication.finished', e => heard.push(-e.seq))
    log.emit('backup.finished', 'taken', backupFinished('web01'))
    await log.flush()
    assert.deepEqual(heard, [1], 'a listener of one type hears only that type')
    assert.equal(told.length, 1)
    assert.match(told[0], /^a listener of event backup\.finished failed: Error: listener bug/)
    assert.equal((await log.list()).length, 1)
  } finally {
    await db.close()
    await removeDir(dir)
  }
})
