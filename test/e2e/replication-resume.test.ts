import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { removeDir, tempDir } from '../helpers/cli.ts'
import { TestCore, waitFor } from '../helpers/cores.ts'
import { sha256File } from '../helpers/tree.ts'

const MiB = 1024 * 1024
/** The rule's limit: slow enough to kill in the middle, and it keeps the network buffers small. */
const LIMIT = '8M'
/**
 * Blocks of the last flush may be durable in the store before the tenant's references to them
 * are written (the references follow each flush): to the tenant they look absent, and the retry
 * sends them again. At most one flush.
 */
const REFERENCE_LAG = 8 * MiB
const RETRY = { DRCORE_RETRY_DELAYS: '1s' }

/** kill -9 in the middle of a large transfer, on either side: the restart finishes the point. */
describe('an interrupted replication resumes, re-sending only what was in flight', () => {
  let work: string
  let hq: TestCore
  let dr: TestCore

  const bigMachine = async (machine: string, bytes: number): Promise<string> => {
    const dir = join(work, machine)
    await mkdir(dir)
    await writeFile(join(dir, 'disk.img'), randomBytes(bytes))
    return dir
  }
  const jobEvents = async (type: string, machine: string): Promise<any[]> => (await hq.events(type)).filter(e => e.data.machine === machine)
  const restoresOnDr = async (machine: string, source: string): Promise<void> => {
    const dest = join(work, `restore-${machine}`)
    const r = await dr.cli(['restore', machine, dest])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(await sha256File(join(dest, machine, 'disk.img')), await sha256File(join(source, 'disk.img')))
  }

  before(async () => {
    work = await tempDir('drcore-resume-')
    ;[hq, dr] = await Promise.all([TestCore.init(work, 'hq'), TestCore.init(work, 'dr')])
    await Promise.all([hq.start(RETRY), dr.start()])
    await hq.pairWith(dr)
  })
  after(async () => {
    await Promise.all([hq?.stop(), dr?.stop()])
    await removeDir(work)
  })

  test('kill -9 the target mid-transfer, restart it: the point arrives complete, re-sent bytes bounded by what was in flight', async t => {
    const size = 64 * MiB
    await hq.json(['replicate', 'big01', '--to', 'dr', '--limit', LIMIT])
    const source = await bigMachine('big01', size)
    await hq.json(['backup', 'big01', source])
    await waitFor('36 MiB on their way', async () => await hq.rule('big01', dr), r => r.bytesSent >= 36 * MiB, 60_000)
    assert.equal(await dr.stop('SIGKILL'), null, 'killed, no exit code')

    const [failed] = await waitFor('the job to fail', async () => await jobEvents('replication.failed', 'big01'), e => e.length >= 1)
    assert.ok(failed.data.bytes >= 36 * MiB && failed.data.bytes < size, `sent before the kill: ${failed.data.bytes}`)
    // what dr had made durable when it died, read with the daemon down (so nothing arrives meanwhile)
    const stored = (await dr.json(['status'])).repository.rawBytes
    const inFlight = failed.data.bytes - stored
    await dr.start()
    const rule = await waitFor('big01 on dr after the restart', async () => await hq.rule('big01', dr), r => r.pointsBehind === 0 && r.state === 'idle', 90_000)
    assert.equal(rule.error, null)

    const sent = (await jobEvents('replication.failed', 'big01')).reduce((n, e) => n + e.data.bytes, 0) +
      (await jobEvents('replication.finished', 'big01')).reduce((n, e) => n + e.data.bytes, 0)
    // the point's blocks hold at least the file's bytes: anything sent beyond them was sent twice
    const resent = sent - size
    const mib = (n: number): string => (n / MiB).toFixed(1)
    t.diagnostic(`sent before the kill ${mib(failed.data.bytes)} MiB, of which ${mib(stored)} MiB durable on dr; in all ${mib(sent)} MiB for a ${size / MiB} MiB point: ${mib(resent)} MiB re-sent`)
    assert.ok(resent <= inFlight + REFERENCE_LAG, `re-sent ${mib(resent)} MiB; ${mib(inFlight)} MiB were in flight (sent, not durable on dr)`)
    // the rule counts the failed job's bytes too, as of its last progress report (every 200 ms)
    assert.ok(rule.bytesSent <= sent && rule.bytesSent >= sent - 3 * MiB, `rule ${rule.bytesSent}, events ${sent}`)

    const [point] = await dr.api('points', { machine: 'big01' })
    assert.equal(point.complete, true)
    await restoresOnDr('big01', source)
  })

  test('kill -9 the source mid-transfer, restart it: it resumes on its own and finishes the point', async t => {
    const size = 48 * MiB
    await hq.json(['replicate', 'big02', '--to', 'dr', '--limit', LIMIT])
    const source = await bigMachine('big02', size)
    await hq.json(['backup', 'big02', source])
    const before = await waitFor('32 MiB on their way', async () => await hq.rule('big02', dr), r => r.bytesSent >= 32 * MiB, 60_000)
    assert.equal(before.state, 'running')
    await hq.stop('SIGKILL')

    await hq.start(RETRY)
    const rule = await waitFor('big02 on dr after the source restarted', async () => await hq.rule('big02', dr), r => r.pointsBehind === 0 && r.state === 'idle', 90_000)
    assert.equal(rule.error, null)
    const [resumed] = (await jobEvents('replication.finished', 'big02')).filter(e => e.data.points === 1)
    t.diagnostic(`killed after ${(before.bytesSent / MiB).toFixed(1)} MiB; the restarted job sent ${(resumed.data.bytes / MiB).toFixed(1)} MiB of ${size / MiB} MiB`)
    await restoresOnDr('big02', source)
  })
})
