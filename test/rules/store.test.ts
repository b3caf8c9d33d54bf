import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { join } from 'node:path'
import { Level } from 'level'
import { RuleStore } from '../../src/rules/index.ts'
import type { RootDb } from '../../src/store/index.ts'
import { removeDir, tempDir } from '../support/dirs.ts'

/**
 * One RuleStore per Core, shared by every service that writes rules (the operations, the
 * scheduler's job outcomes, seeds): its writes to one rule must not overwrite each other.
 */
describe('the rule store', { timeout: 20_000 }, () => {
  let dir: string
  let db: RootDb
  let rules: RuleStore

  before(async () => {
    dir = await tempDir('drcore-rules-')
    db = new Level(join(dir, 'index'))
    await db.open()
    rules = new RuleStore(db)
  })
  after(async () => {
    await db.close()
    await removeDir(dir)
  })

  it('applies updates of one rule asked for at once in order, losing none', async () => {
    await rules.add({ machine: 'web01', to: 'peer-a' })
    const order: number[] = []
    await Promise.all(Array.from({ length: 40 }, async (_, i) => await rules.update('web01', 'peer-a', r => {
      r.bytesSent += 1
      order.push(i)
    })))
    assert.equal((await rules.get('web01', 'peer-a')).bytesSent, 40)
    assert.deepEqual(order, Array.from({ length: 40 }, (_, i) => i))
  })

  it('a removal asked for during updates lands after them, and later updates find no rule', async () => {
    await rules.add({ machine: 'db01', to: 'peer-a' })
    const first = rules.update('db01', 'peer-a', r => { r.paused = true })
    const removed = rules.remove('db01', 'peer-a')
    const late = rules.update('db01', 'peer-a', r => { r.paused = false })
    assert.equal((await first).paused, true)
    await removed
    await assert.rejects(late, /no rule sends db01 to peer-a/)
    assert.deepEqual((await rules.list()).map(r => r.machine), ['web01'])
  })
})
