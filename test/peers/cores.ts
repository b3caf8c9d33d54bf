/**
 * Test support: a Core reduced to what pairing needs (a LevelDB repository in a temp dir, the
 * peer registry, a libp2p node on 127.0.0.1 trusting that registry, the pairing service), so
 * tests can start, stop and restart Cores that talk to each other for real.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Level } from 'level'
import { createNode } from '../../src/net/index.ts'
import type { DrcoreNode } from '../../src/net/index.ts'
import { PairingService, PeerRegistry } from '../../src/peers/index.ts'
import type { PairingOptions } from '../../src/peers/index.ts'
import type { RootDb } from '../../src/store/index.ts'
import { RecordingSink } from '../net/nodes.ts'

/** Generous enough that only the rate-limit tests meet the limits (every test Core is 127.0.0.1). */
const RELAXED = { limit: 1000, intervalMs: 1000 }

export class TestCore {
  readonly name: string
  readonly dir: string
  readonly key: PrivateKey
  readonly events = new RecordingSink()
  db!: RootDb
  registry!: PeerRegistry
  node!: DrcoreNode
  pairing!: PairingService
  readonly #options: Partial<PairingOptions>

  private constructor (name: string, dir: string, key: PrivateKey, options: Partial<PairingOptions>) {
    this.name = name
    this.dir = dir
    this.key = key
    this.#options = options
  }

  static async start (name: string, options: Partial<PairingOptions> = {}): Promise<TestCore> {
    const core = new TestCore(name, await mkdtemp(join(tmpdir(), `drcore-${name}-`)), await generateKeyPair('Ed25519'), options)
    await core.open()
    return core
  }

  get peerId (): string {
    return peerIdFromPrivateKey(this.key).toString()
  }

  /** The address to give `drcore peer add`. */
  get address (): string {
    return this.node.addresses()[0]
  }

  /** Opens the repository and starts the node and the pairing service (again, after `stop`). */
  async open (): Promise<void> {
    this.db = new Level(join(this.dir, 'index'))
    await this.db.open()
    this.registry = await PeerRegistry.open(this.db, { self: this.peerId, events: this.events })
    this.node = await createNode({ privateKey: this.key, listen: ['/ip4/127.0.0.1/tcp/0'], trust: this.registry, events: this.events })
    this.pairing = new PairingService({ node: this.node, registry: this.registry, name: this.name, perPeer: RELAXED, perAddress: RELAXED, ...this.#options })
    await this.pairing.start()
  }

  /** Stops the network and closes the repository; the directory stays for `open`. */
  async stop (): Promise<void> {
    await this.pairing.stop()
    await this.node.stop()
    await this.db.close()
  }

  async destroy (): Promise<void> {
    await this.stop()
    await rm(this.dir, { recursive: true, force: true })
  }

  /** This Core's view of `other`, as `peer list --json` would print it. */
  view (other: TestCore) {
    return this.pairing.list().find(p => p.peerId === other.peerId)
  }
}
