import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { DEFAULT_CHUNKING, LEGACY_CHUNKING } from '../../src/chunker/index.ts'
import { MalformedError } from '../../src/errors.ts'
import { readConfig } from '../../src/repo/config.ts'
import { initRepository } from '../../src/repo/index.ts'
import { removeDir, tempDir } from '../support/dirs.ts'

const KiB = 1024

/** config.json carries the repository's chunk sizes (docs/chunking.md, "Per repository"). */
describe('the chunk sizes in config.json', { timeout: 30_000 }, () => {
  let work: string
  before(async () => { work = await tempDir('drcore-config-') })
  after(async () => { await removeDir(work) })

  it('init records the sizes it is given, and the default without them', async () => {
    const chosen = { minSize: 4 * KiB, avgSize: 16 * KiB, maxSize: 64 * KiB }
    await initRepository(join(work, 'small'), { name: 'a', chunking: chosen })
    await initRepository(join(work, 'default'), { name: 'b' })
    assert.deepEqual(JSON.parse(await readFile(join(work, 'small', 'config.json'), 'utf8')).chunking, chosen)
    assert.deepEqual((await readConfig(join(work, 'small'))).chunking, chosen)
    assert.deepEqual(JSON.parse(await readFile(join(work, 'default', 'config.json'), 'utf8')).chunking, { ...DEFAULT_CHUNKING })
  })

  it('a config without them (written before they were recorded) reads as 16 / 64 / 256 KiB, the sizes of every earlier backup', async () => {
    const dir = join(work, 'old')
    await initRepository(dir, { name: 'c', chunking: { minSize: 4 * KiB, avgSize: 16 * KiB, maxSize: 64 * KiB } })
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'))
    delete config.chunking
    await writeFile(join(dir, 'config.json'), JSON.stringify(config))
    assert.deepEqual((await readConfig(dir)).chunking, { minSize: 16 * KiB, avgSize: 64 * KiB, maxSize: 256 * KiB })
    assert.deepEqual({ ...LEGACY_CHUNKING }, { minSize: 16 * KiB, avgSize: 64 * KiB, maxSize: 256 * KiB })
  })

  it('refuses sizes that are not min < avg < max <= 1 MiB with one line naming the file', async () => {
    const dir = join(work, 'bad')
    await initRepository(dir, { name: 'd' })
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'))
    for (const chunking of [{ minSize: 64 * KiB, avgSize: 16 * KiB, maxSize: 256 * KiB }, { minSize: 16 * KiB, avgSize: 64 * KiB, maxSize: 2048 * KiB }, { avgSize: 64 * KiB }, '64K']) {
      await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, chunking }))
      await assert.rejects(readConfig(dir), (err: unknown) => {
        assert.ok(err instanceof MalformedError)
        assert.match(err.message, /config\.json: "chunking" must be \{"minSize", "avgSize", "maxSize"\} in bytes with min < avg < max <= 1048576, got /)
        assert.ok(!err.message.includes('\n'))
        return true
      })
    }
  })
})
