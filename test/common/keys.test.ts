import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Level } from 'level'
import { KEY_SEP, prefixRange } from '../../src/common/keys.ts'
import { removeDir, tempDir } from '../support/dirs.ts'

describe('keys of several parts in LevelDB', { timeout: 10_000 }, () => {
  let dir: string
  let db: Level<string, string>
  before(async () => {
    dir = await tempDir()
    db = new Level(join(dir, 'index'))
    const keys = [
      ['t', 'web0'], ['t', 'web0', '1'], ['t', 'web01'], ['t', 'web01', '1'], ['t', 'web0!'], ['t', 'web0~'], ['t', 'wéb0'], ['u', 'web0'], ['t']
    ].map(parts => parts.join(KEY_SEP))
    await db.batch(keys.map(key => ({ type: 'put' as const, key, value: key })))
  })
  after(async () => {
    await db.close()
    await removeDir(dir)
  })

  it('the range of a prefix ending in the separator holds exactly the keys that start with those parts', async () => {
    const under = await db.keys(prefixRange(['t', 'web0'].join(KEY_SEP) + KEY_SEP)).all()
    assert.deepEqual(under, [['t', 'web0', '1'].join(KEY_SEP)], 'not web01, web0! or web0~, whose names only start like it')
    const tenant = await db.keys(prefixRange('t' + KEY_SEP)).all()
    assert.equal(tenant.length, 7, 'every key of tenant t but the bare one, none of u')
    assert.ok(tenant.every(k => k.startsWith('t' + KEY_SEP)))
  })
})
