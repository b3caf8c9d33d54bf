import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { removeDir, tempDir } from '../support/dirs.ts'
import { DaemonCore } from '../support/daemon.ts'
import { waitFor } from '../support/wait.ts'
import { bytesIn, killWhen } from '../helpers/kill.ts'
import { buildExt4Image, checkRealDataTools, compareFiles, compareTrees, copyCorpus, rewriteBlocks } from '../helpers/real-data.ts'

/**
 * kill -9 of `drcore seed create` on the source and of `drcore seed consume` on the target
 * (daemon-less CLI processes), on real data: an ext4 image of programs from /usr/bin and a tree
 * of Perl's library. hq replicates box to dr with `--seed-drive`, so dr holds box's newer point
 * as an orphan waiting for the seed. Each kill lands mid-operation by construction: seed create
 * is killed once it has finished a part and started the next, consume once dr's packs have
 * grown; either process finishing first fails the test (helpers/kill.ts).
 */
const MiB = 1024 * 1024
const MAX_SIZE = '12M'
const TIMEOUT = 300_000

describe('kill -9 during seed create and seed consume (real processes, real data)', { timeout: TIMEOUT }, () => {
  let work: string
  let hq: DaemonCore
  let dr: DaemonCore
  let image: string
  let tree: string
  /** box's points on hq: the first goes on the seed, the second reached dr as an orphan */
  const points: string[] = []
  const seedDir = (): string => join(work, 'seed')

  /** `drcore verify` (a full rehash) through the CLI, on a repository whose daemon is stopped. */
  const verifiesOn = async (core: DaemonCore, when: string, orphans: string[] = []): Promise<void> => {
    const r = await core.cli(['verify', '--json'], { timeoutMs: TIMEOUT })
    assert.equal(r.code, 0, `verify on ${core.name} ${when}: ${r.stdout} ${r.stderr}`)
    const report = JSON.parse(r.stdout)
    assert.deepEqual({ ok: report.ok, corrupt: report.corrupt, lost: report.lost, orphans: report.orphans }, { ok: true, corrupt: [], lost: [], orphans }, `verify on ${core.name} ${when}`)
  }

  before(async () => {
    await checkRealDataTools()
    work = await tempDir('drcore-seed-kill-')
    const [programs, perl] = await Promise.all([
      copyCorpus(join(work, 'programs'), [{ path: '/usr/bin', maxBytes: 40 * MiB }]),
      copyCorpus(join(work, 'perl'), [{ path: '/usr/share/perl' }])
    ])
    image = (await buildExt4Image(programs, join(work, 'programs.img'))).path
    tree = perl.dir
    ;[hq, dr] = await Promise.all([DaemonCore.init(work, 'hq'), DaemonCore.init(work, 'dr')])
    await Promise.all([hq.start(), dr.start()])
    await hq.pairWith(dr)
    // setup through the daemons' API (a CLI process costs seconds on a loaded machine)
    const volumes = [{ name: 'programs.img', path: image }, { name: 'perl', path: tree }]
    points.push((await hq.api('backup', { machine: 'box', volumes })).point)
    await hq.api('ruleAdd', { machine: 'box', to: 'dr', seedDrive: true })
    // a running system writes to its disk; the next point goes to dr as a delta: an orphan there
    await rewriteBlocks(image, 0.01, 'seed kill')
    points.push((await hq.api('backup', { machine: 'box', volumes })).point)
    await waitFor('box\'s second point on dr, as an orphan', async () => await dr.api('machines').then(async (ms: any[]) => ms.some(m => m.machine === 'box') ? await dr.api('points', { machine: 'box' }) : []),
      (p: any[]) => p.length === 1 && p[0].point === points[1] && p[0].orphan === true)
    // the kills below hit CLI processes that open the repositories themselves
    await Promise.all([hq.stop(), dr.stop()])
  })
  after(async () => {
    await Promise.all([hq?.stop(), dr?.stop()])
    await removeDir(work)
  })

  test('seed create killed between parts: the source verifies, the unfinished seed is refused, and seed create run again into the same folder writes a whole seed', async t => {
    const out = seedDir()
    const killed = await killWhen(['seed', 'create', '--out', out, '--max-size', MAX_SIZE, '--repo', hq.repo], async () => {
      const names = await readdir(out).catch(() => [] as string[])
      return names.some(n => n.endsWith('.car.zst')) && names.some(n => n.endsWith('.car.zst.partial'))
    }, { what: 'seed create killed once it had finished a part', timeoutMs: TIMEOUT })
    const left = (await readdir(out)).sort()
    t.diagnostic(`killed after ${(killed.ms / 1000).toFixed(1)} s, leaving ${left.join(', ')}`)
    const unfinished = left.filter(n => n.endsWith('.car.zst.partial'))
    assert.equal(unfinished.length, 1, 'the kill landed while a part was being written')
    assert.deepEqual(await hq.json(['seed', 'list']), [], 'the killed seed create recorded no seed')
    await verifiesOn(hq, 'after seed create was killed')

    // the finished parts of that seed are whole, but the seed is not: dr refuses the folder
    const refused = await dr.cli(['seed', 'consume', out])
    assert.equal(refused.code, 1)
    assert.equal(refused.stderr, `drcore: ${join(out, unfinished[0])} is a part seed create did not finish (it was interrupted), so the seed in ${out} is incomplete: run seed create again, and consume the seed it writes\n`)
    assert.deepEqual(await dr.json(['seed', 'list']), [], 'dr imported nothing')

    // run again into the same folder: it clears what the killed run left and writes one seed
    const again = await hq.cli(['seed', 'create', '--out', out, '--max-size', MAX_SIZE, '--json'], { timeoutMs: TIMEOUT })
    assert.equal(again.code, 0, again.stderr)
    const seed = JSON.parse(again.stdout)
    assert.deepEqual(seed.removed, left)
    assert.equal(again.stderr, `removed ${left.length} files an interrupted seed create had left in ${out}\n`)
    assert.ok(seed.parts.length >= 3, `${seed.parts.length} parts`)
    assert.deepEqual((await readdir(out)).sort(), seed.parts.map((p: any) => basename(p.file)).sort(), 'the folder holds exactly the new seed')
    for (const part of seed.parts) assert.equal((await stat(part.file)).size, part.size)
    assert.equal(seed.points, 1)
  })

  test('seed consume killed mid-way: the target verifies, consume run again completes, the orphan becomes complete and restores byte for byte', async t => {
    const out = seedDir()
    const packs = join(dr.repo, 'packs')
    const before = await bytesIn(packs)
    const killed = await killWhen(['seed', 'consume', out, '--repo', dr.repo], async () => await bytesIn(packs) - before >= 4 * MiB, {
      what: 'seed consume killed once dr\'s packs grew', timeoutMs: TIMEOUT
    })
    t.diagnostic(`killed after ${(killed.ms / 1000).toFixed(1)} s, ${((await bytesIn(packs) - before) / MiB).toFixed(1)} MiB of packs written`)
    const rows = await dr.json(['seed', 'list'])
    assert.ok(rows.every((r: any) => r.state === 'partial'), `the killed consume left the seed unfinished: ${JSON.stringify(rows)}`)
    await verifiesOn(dr, 'after consume was killed', [points[1]])

    const result = await dr.json(['seed', 'consume', out])
    assert.deepEqual(result.errors, [])
    assert.equal(result.complete, true)
    assert.ok(result.imported > 0, 'the second run imported what the killed one had not')
    assert.deepEqual(new Set(result.pointsCompleted), new Set(points))
    const onDr = await dr.json(['points', 'box'])
    assert.deepEqual(onDr.map((p: any) => [p.point, p.complete]), points.map(p => [p, true]))
    await verifiesOn(dr, 'after consume ran again')

    const dest = join(work, 'restored')
    const r = await dr.cli(['restore', 'box', dest], { timeoutMs: TIMEOUT })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(await compareFiles(image, join(dest, 'programs.img')), undefined)
    assert.deepEqual(await compareTrees(tree, join(dest, 'perl')), [])
  })
})
