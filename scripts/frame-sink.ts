/**
 * The receiving side of the measuring scripts (measure-replication.ts, measure-limits.ts), run in
 * a child process so the two Cores do not share one JavaScript thread: opens the Core on `repo`,
 * allows `source`, serves `protocol` by reading every frame and dropping it (then `done`), reports
 * its address to the parent and stops when the parent says `stop`. Any other protocol of the Core
 * (replicate) is served as the daemon serves it.
 */
import { TestCore } from '../test/support/core.ts'

export async function serveFrameSink (repo: string, source: string, protocol: string): Promise<void> {
  const target = await TestCore.open(repo, 'target')
  await target.pairing.allow(source, { name: 'source', tenant: 'source' })
  await target.node.handle(protocol, async (wire) => {
    while (await wire.receive() !== undefined);
    await wire.send({ type: 'done' })
  })
  process.send!({ address: target.node.addresses()[0] })
  process.on('message', (message) => {
    if (message !== 'stop') return
    void (async () => {
      await target.stop()
      process.exit(0)
    })()
  })
}
