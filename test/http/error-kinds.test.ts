/**
 * The kind (and so the HTTP status) of failures whose kind is not the default refusal, through
 * the routes an API user calls: what the request names wrong is 400, what it names that does
 * not exist is 404, damaged data is 422. The table in error-status.test.ts maps each class to
 * its status; this file shows the real operations raise those classes.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { closeServices, OfflineCore, openServices } from '../../src/core/index.ts'
import { initRepository } from '../../src/repo/index.ts'
import { httpApp } from '../../src/http/server.ts'
import type { HttpApp } from '../../src/http/server.ts'
import { loadOrCreateToken } from '../../src/http/token.ts'
import { damageBlock } from '../helpers/damage.ts'
import { removeDir, tempDir } from '../support/dirs.ts'

interface ErrorBody { name: string, message: string, exitCode: number, kind: string }

describe('the API answers each failure with the kind it is', { timeout: 60_000 }, () => {
  let work: string
  let repo: string
  let core: OfflineCore
  let http: HttpApp
  let token: string
  const call = async (path: string, init: RequestInit = {}): Promise<Response> =>
    await http.app.request(path, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } })
  const post = async (path: string, body: unknown): Promise<Response> => await call(path, { method: 'POST', body: JSON.stringify(body) })
  /** a progress operation: its stream started (200); its last line is the error */
  const streamedError = async (res: Response): Promise<ErrorBody> => {
    assert.equal(res.status, 200, 'the stream had started')
    const last = JSON.parse((await res.text()).trim().split('\n').at(-1) as string) as { error?: ErrorBody }
    assert.ok(last.error !== undefined, `the operation failed: ${JSON.stringify(last)}`)
    return last.error
  }
  const answeredError = async (res: Response, status: number): Promise<ErrorBody> => {
    assert.equal(res.status, status)
    return (await res.json() as { error: ErrorBody }).error
  }

  before(async () => {
    work = await tempDir('drcore-error-kinds-')
    repo = join(work, 'repo')
    await initRepository(repo, { name: 'hq', apiPort: 0, listen: ['/ip4/127.0.0.1/tcp/0'] })
    const tree = join(work, 'tree')
    await mkdir(join(tree, 'sub'), { recursive: true })
    await writeFile(join(tree, 'sub', 'a.bin'), randomBytes(40_000))
    await writeFile(join(tree, 'b.bin'), randomBytes(3_000))
    const first = await OfflineCore.open(repo)
    try {
      await first.run('backup', { machine: 'web01', volumes: [{ name: 'data', path: tree }] })
      assert.equal((await first.run('verify', {}) as { ok: boolean }).ok, true)
    } finally {
      await first.close()
    }
    core = await OfflineCore.open(repo)
    token = await loadOrCreateToken(repo)
    http = httpApp(core, token)
  })
  after(async () => {
    http?.close()
    await core?.close()
    await removeDir(work)
  })

  test('allowing this Core itself as a peer is bad input: 400 SelfPairingError', async () => {
    const self = (await (await call('/api/v1/id')).json() as { peerId: string }).peerId
    const err = await answeredError(await post('/api/v1/peers/allow', { peerId: self }), 400)
    assert.deepEqual(err, { name: 'SelfPairingError', message: 'a Core cannot pair with itself', exitCode: 1, kind: 'bad-input' })
  })

  test('a backup of a path that does not exist is not-found; of a device, bad input', async () => {
    const missing = join(work, 'no-such-tree')
    const gone = await streamedError(await post('/api/v1/machines/db01/backup', { volumes: [{ name: 'data', path: missing }] }))
    assert.deepEqual(gone, { name: 'NotFoundError', message: `no such file or directory: ${missing}`, exitCode: 1, kind: 'not-found' })
    const device = await streamedError(await post('/api/v1/machines/db01/backup', { volumes: [{ name: 'data', path: '/dev/null' }] }))
    assert.deepEqual(device, { name: 'InvalidInputError', message: 'not a directory or regular file: /dev/null', exitCode: 1, kind: 'bad-input' })
  })

  test('consuming a seed from a folder that does not exist is not-found; from one without a seed, bad input', async () => {
    const nowhere = join(work, 'nowhere')
    const gone = await streamedError(await post('/api/v1/seeds/consume', { dir: nowhere }))
    assert.deepEqual(gone, { name: 'NotFoundError', message: `no such directory: ${nowhere}`, exitCode: 1, kind: 'not-found' })
    const empty = join(work, 'empty')
    await mkdir(empty)
    const none = await streamedError(await post('/api/v1/seeds/consume', { dir: empty }))
    assert.deepEqual(none, { name: 'InvalidInputError', message: `${empty} holds no seed: there is no .car.zst (or .car) file in it`, exitCode: 1, kind: 'bad-input' })
  })

  test('a prune that cannot read a point that was whole is damaged data: UnreadablePointsError', async () => {
    // the volume's root directory node, damaged on disk as a failing disk would
    await core.close()
    const services = await openServices(repo)
    let root: string
    try {
      const [record] = await services.points.all()
      root = record.volumes.data.root
    } finally {
      await closeServices(services)
    }
    await damageBlock(repo, CID.parse(root))
    http.close()
    core = await OfflineCore.open(repo)
    http = httpApp(core, token)

    const err = await streamedError(await post('/api/v1/prune', {}))
    assert.equal(err.name, 'UnreadablePointsError')
    assert.equal(err.kind, 'damaged')
    assert.equal(err.exitCode, 1)
    assert.match(err.message, /^prune removed nothing: .*run drcore repair/)
  })
})
