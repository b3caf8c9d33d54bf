import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import type { DrcoreNode } from '../../src/net/index.ts'
import { startNode } from './nodes.ts'

const rawCid = (bytes: Uint8Array): CID => CID.createV1(0x55, Digest.create(0x12, createHash('sha256').update(bytes).digest()))

/**
 * `sendBlock` resolves while the frame may still wait in the stream's send buffer (up to the
 * writer's high-water mark). A sender that reads blocks into one reused buffer (a seed part, a
 * pack window) must be able to reuse it once `sendBlock` resolves, or the peer gets other bytes.
 */
describe('wire stream buffer ownership', { timeout: 60_000 }, () => {
  let server: DrcoreNode
  let client: DrcoreNode
  before(async () => {
    server = await startNode()
    client = await startNode()
  })
  after(async () => {
    await client.stop()
    await server.stop()
  })

  it('sends the bytes a block had when sendBlock was called, though the caller reuses its buffer once it resolves', async () => {
    const blocks = 48
    const size = 256 * 1024
    const received = { blocks: 0, error: undefined as string | undefined }
    const { promise: done, resolve } = Promise.withResolvers<void>()
    const protocol = '/drcore/test-ownership/1'
    await server.handle(protocol, async (wire) => {
      try {
        for (let frame = await wire.receive(); frame != null; frame = await wire.receive()) received.blocks++
      } catch (err) {
        received.error = (err as Error).message
      } finally {
        resolve()
      }
    }, { allowUnknown: true })
    const wire = await client.open(server.peerId, protocol, { addresses: server.addresses() })
    const reused = new Uint8Array(size)
    for (let i = 0; i < blocks; i++) {
      reused.fill(i + 1)
      reused.set(createHash('sha256').update(`block ${i}`).digest()) // distinct, not all one byte
      await wire.sendBlock(rawCid(reused), reused)
    }
    reused.fill(0)
    await wire.close()
    await done
    assert.deepEqual(received, { blocks, error: undefined })
  })
})
