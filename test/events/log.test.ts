import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Level } from 'level'
import { EventLog } from '../../src/events/log.ts'
import type { CoreEvent } from '../../src/events/api.ts'
import { tempDir, removeDir } from '../support/dirs.ts'

test('published events reach live listeners but are never stored; emitted ones are both', async () => {
  const dir = await tempDir()
  const db = new Level<string, any>(dir, { valueEncoding: 'json' })
  try {
    const log = new EventLog(db)
    await log.start()
    const seen: CoreEvent[] = []
    const stop = log.subscribe(e => seen.push(e))
    log.emit('replication.started', 'job started', { machine: 'web01' })
    log.publish('replication.progress', '1 MiB of 4 MiB', { bytesSent: 1 << 20 })
    log.emit('replication.finished', 'job finished', { machine: 'web01' })
    stop()
    log.publish('replication.progress', 'after unsubscribe')
    assert.deepEqual(seen.map(e => [e.type, e.seq]), [['replication.started', 1], ['replication.progress', 0], ['replication.finished', 2]])
    assert.equal(seen[1].data.bytesSent, 1 << 20)
    const stored = await log.list()
    assert.deepEqual(stored.map(e => e.type), ['replication.started', 'replication.finished'])
  } finally {
    await db.close()
    await removeDir(dir)
  }
})

test('list returns the newest events oldest first, or the events after a sequence number', async () => {
  const dir = await tempDir()
  const db = new Level<string, any>(dir, { valueEncoding: 'json' })
  try {
    const log = new EventLog(db)
    await log.start()
    for (let i = 1; i <= 5; i++) log.emit('backup.finished', `point ${i}`)
    assert.deepEqual((await log.list()).map(e => e.seq), [1, 2, 3, 4, 5])
    assert.deepEqual((await log.list({ limit: 2 })).map(e => e.seq), [4, 5])
    assert.deepEqual((await log.list({ since: 3 })).map(e => e.seq), [4, 5])
    assert.deepEqual((await log.list({ since: 1, limit: 2 })).map(e => e.seq), [2, 3])
    const reopened = new EventLog(db)
    await reopened.start()
    reopened.emit('backup.finished', 'point 6')
    assert.equal((await reopened.list({ since: 5 }))[0].seq, 6, 'sequence numbers continue after a restart')
  } finally {
    await db.close()
    await removeDir(dir)
  }
})
