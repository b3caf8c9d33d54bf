import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import { jsonSublevel } from '../../src/store/index.ts'
import { collect, TestRepo } from './helpers.ts'

const FIXTURE = join(import.meta.dirname, 'fixtures', 'crash-writer.ts')

function startWriter (args: string[]): { exited: Promise<NodeJS.Signals | null>, ready: Promise<void>, kill: () => void } {
  const child = spawn(process.execPath, [FIXTURE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (data) => { stderr += String(data) })
  const exited = new Promise<NodeJS.Signals | null>((resolve, reject) => child.on('exit', (code, signal) => {
    if (signal === 'SIGKILL') resolve(signal)
    else reject(new Error(`crash writer exited with ${code}: ${stderr}`))
  }))
  const ready = new Promise<void>((resolve) => child.stdout.on('data', (data) => { if (String(data).includes('ready')) resolve() }))
  return { exited, ready, kill: () => child.kill('SIGKILL') }
}

/** Runs the crash writer until it has committed something, then a random while longer, then SIGKILLs it. */
async function killAtRandom (root: string): Promise<void> {
  const writer = startWriter([root])
  await Promise.race([writer.ready, writer.exited])
  await new Promise((resolve) => setTimeout(resolve, randomInt(0, 300)))
  writer.kill()
  await writer.exited
}

/** Lets the crash writer SIGKILL itself right after its k-th pack fsync, before that index batch. */
async function killAfterSync (root: string, k: number): Promise<void> {
  await startWriter([root, String(k)]).exited
}

/** Whether some pack holds bytes its committed length does not cover (a kill during a flush). */
async function hasUncommittedTail (repo: TestRepo): Promise<boolean> {
  for await (const [key, length] of jsonSublevel<number>(repo.db, 'packs').iterator()) {
    const size = await stat(join(repo.packsDir, `${key}.pack`)).then((s) => s.size, () => 0)
    if (size > length) return true
  }
  return false
}

describe('a writer killed with SIGKILL at random moments', () => {
  let repo: TestRepo
  before(async () => { repo = await TestRepo.create() })
  after(async () => { await repo.cleanup() })

  it('leaves a store that opens, reads back every indexed block, and never lists a record before its blocks', async (t) => {
    const rounds = 6
    let lastBlocks = 0
    let tornRounds = 0
    for (let round = 0; round < rounds; round++) {
      await repo.db.close()
      const selfKill = round % 2 === 1
      if (selfKill) await killAfterSync(repo.root, randomInt(1, 10))
      else await killAtRandom(repo.root)
      await repo.reopenDb()
      const torn = await hasUncommittedTail(repo)
      if (torn) tornRounds++
      else assert.ok(!selfKill, `round ${round}: a kill right after a pack fsync left no uncommitted tail`)

      const store = await repo.open()
      const results = await collect(store.verifyAll())
      const failures = results.filter((r) => !r.ok)
      assert.deepEqual(failures, [], `round ${round}: ${failures.length} blocks fail verification`)
      const stats = await store.stats()
      assert.equal(results.length, stats.blocks)
      assert.ok(stats.blocks >= lastBlocks, `round ${round}: committed blocks were lost`)
      if (!selfKill) assert.ok(stats.blocks > lastBlocks, `round ${round} committed nothing`)
      lastBlocks = stats.blocks

      // every committed record's blocks are there: ops never land before the blocks they name
      const records = await collect(jsonSublevel<string[]>(repo.db, 'crashtest').values())
      const cids = records.flat().map((s) => CID.parse(s))
      assert.ok((await store.hasMany(cids)).every(Boolean), `round ${round}: a committed record names a missing block`)
      for (const cid of cids.slice(-20)) await store.get(cid)
      await store.close()
    }
    t.diagnostic(`${tornRounds} of ${rounds} kills left pack bytes past the committed length`)
  })
})
