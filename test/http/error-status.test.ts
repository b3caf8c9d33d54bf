import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Hono } from 'hono'
import {
  CorruptBlockError, FileSystemError, InvalidInputError, MalformedError, MissingBlockError, NotAuthorizedError, NotFoundError,
  RepositoryLockedError, StoppingError, UsageError, UserError
} from '../../src/errors.ts'
import { PeerTimeoutError, PeerUnreachableError, ProtocolNotServedError, RateLimitedError, RemoteError, StreamEndedError } from '../../src/net/index.ts'
import { DaemonUnreachableError } from '../../src/api/client.ts'
import { RuleNotFoundError } from '../../src/rules/index.ts'
import { apiRoutes } from '../../src/http/api.ts'
import { describeS3Error } from '../../src/store/s3/errors.ts'
import { SelfPairingError } from '../../src/peers/index.ts'
import { AmbiguousNameError } from '../../src/points/index.ts'
import { UnreadablePointsError } from '../../src/prune/index.ts'
import { RepositoryFormatError } from '../../src/repo/format.ts'
import { QuotaExceededError, RetentionLockedError } from '../../src/tenants/index.ts'

const TOKEN = 'e'.repeat(32)
const PEER = '12D3KooWDsD1xN7bY3EvbbUE9rYJm5NGuW1dR9JHn7HzpZ3cYxe2'
const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' })

/** Each failure an operation may end with, the status and kind the API answers it with. */
const CASES: Array<[string, () => Error, number, string]> = [
  ['wrong usage', () => new UsageError('"limit" must be an integer'), 400, 'bad-input'],
  ['a value that is not valid', () => new InvalidInputError('not a peer id: x'), 400, 'bad-input'],
  ['a peer not allowed', () => new NotAuthorizedError('peer x is not approved'), 403, 'not-authorized'],
  ['a Core asked to pair with itself', () => new SelfPairingError('a Core cannot pair with itself'), 400, 'bad-input'],
  ['a name that matches several machines', () => new AmbiguousNameError('machine name web01 is ambiguous: it matches a/web01 (origin x), b/web01 (origin y); name one as tenant/web01 or origin/web01'), 400, 'bad-input'],
  ['something unknown', () => new NotFoundError('unknown seed: s1'), 404, 'not-found'],
  ['a backup source that does not exist', () => new NotFoundError('no such file or directory: /srv/nothing'), 404, 'not-found'],
  ['a rule that does not exist', () => new RuleNotFoundError('web01', PEER), 404, 'not-found'],
  ['a refusal', () => new UserError('replication of web01 to dr is paused: resume it first'), 409, 'refused'],
  ['a locked repository', () => new RepositoryLockedError('the repository is in use by the daemon'), 409, 'refused'],
  ['a tenant past its quota', () => new QuotaExceededError('tenant acme would pass its quota of 1 GiB on this Core', { tenant: 'acme', quota: 2 ** 30, storedBytes: 2 ** 30, bytes: 4096 }), 409, 'refused'],
  ['points a retention lock keeps', () => new RetentionLockedError('the retention lock of tenant acme on this Core (30d) keeps 3 of the 3 points of web01', { tenant: 'acme', retentionLock: '30d', locked: 3, until: '2027-01-01T00:00:00.000Z' }), 409, 'refused'],
  ['a corrupt block', () => new CorruptBlockError('bafkreiabc'), 422, 'damaged'],
  ['a missing block', () => new MissingBlockError('bafkreiabc'), 422, 'damaged'],
  ['bytes that do not decode', () => new MalformedError('part 3 is damaged'), 422, 'damaged'],
  ['a prune that cannot read a point that was whole', () => new UnreadablePointsError('prune removed nothing: it cannot tell which blocks point x keeps'), 422, 'damaged'],
  ['a peer asked too often', () => new RateLimitedError(`too many pairing requests from peer ${PEER}; try again later`), 429, 'rate-limited'],
  ['a daemon that cannot be reached (a Core that forwards to another)', () => new DaemonUnreachableError('cannot reach the drcore daemon at http://127.0.0.1:1: ECONNREFUSED'), 503, 'unavailable'],
  ['a full disk', () => new FileSystemError('writing pack', '/repo/packs/00000003.pack', enospc), 500, 'operational'],
  ['an object store refusing the credentials', () => describeS3Error(Object.assign(new Error('denied'), { Code: 'InvalidAccessKeyId' }), 'b', 'http://s3', 'writing a pack'), 500, 'operational'],
  ['an object store that cannot be reached', () => describeS3Error(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), 'b', 'http://s3', 'writing a pack'), 503, 'unavailable'],
  ['an object store that does not answer in time', () => describeS3Error(Object.assign(new Error('slow'), { name: 'TimeoutError' }), 'b', 'http://s3', 'writing a pack'), 504, 'timeout'],
  ['a repository of a newer format', () => new RepositoryFormatError('repository /srv/dr is format version 2, written by a newer drcore; this drcore reads format version 1: upgrade drcore to open it'), 500, 'operational'],
  ['a peer that cannot be reached', () => new PeerUnreachableError(PEER, `cannot reach peer ${PEER}`), 503, 'unavailable'],
  ['a stream the peer ended', () => new StreamEndedError(PEER, 'the stream was reset'), 503, 'unavailable'],
  ['a peer that failed on its side', () => new RemoteError(PEER, 'refused', `peer ${PEER}: its disk is full`), 503, 'unavailable'],
  ['a peer without the protocol', () => new ProtocolNotServedError(PEER, '/drcore/repair/1'), 503, 'unavailable'],
  ['a Core that is stopping', () => new StoppingError('the Core is stopping'), 503, 'unavailable'],
  ['a peer that does not answer in time', () => new PeerTimeoutError(PEER, `no progress with peer ${PEER} before the deadline`), 504, 'timeout'],
  ['a bug', () => new TypeError('x is undefined'), 500, 'internal']
]

describe('the HTTP status of an error follows from its kind, not from its base class', { timeout: 30_000 }, () => {
  let thrown: () => Error = () => new Error('unset')
  const app = new Hono()
  app.route('/api/v1', apiRoutes({ run: async () => { throw thrown() } }, TOKEN))
  const headers = { authorization: `Bearer ${TOKEN}` }

  for (const [what, make, status, kind] of CASES) {
    test(`${what}: ${status} (${kind})`, async t => {
      t.mock.method(console, 'error', () => {})
      thrown = make
      const res = await app.request('/api/v1/status', { headers })
      assert.equal(res.status, status)
      const body = await res.json() as { error: { name: string, message: string, exitCode: number, kind: string } }
      const err = make()
      assert.deepEqual(body.error, { name: err.name, message: err.message, exitCode: err instanceof UsageError ? 2 : 1, kind })
    })
  }

  test('an operation that streams progress ends with the same error line, kind included', async t => {
    t.mock.method(console, 'error', () => {})
    thrown = () => new CorruptBlockError('bafkreiabc')
    const res = await app.request('/api/v1/verify', { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{}' })
    assert.equal(res.status, 200, 'the stream had started')
    const lines = (await res.text()).trim().split('\n').map(line => JSON.parse(line))
    assert.deepEqual(lines.at(-1), { error: { name: 'CorruptBlockError', message: 'block bafkreiabc is corrupt: its bytes do not match its hash', exitCode: 1, kind: 'damaged' } })
  })
})
