/**
 * How every result and listing names a peer (docs/cli.md, "Output for scripts"): the peer id,
 * and the name this Core knows it by (the operator's name for it, this Core's own name for
 * itself, else null). A field that refers to a peer (`to`, `from`, `origin`, `source`, `target`)
 * holds one of these, never a bare id; a script reads `.peerId` and a person reads `.name`.
 */
export interface PeerRef {
  peerId: string
  name: string | null
}

/** Names a peer id as a PeerRef, with the names a Core knows now. */
export type PeerNamer = (peerId: string) => PeerRef

/** A namer for modules with no registry at hand (tests, offline tools): ids without names. */
export const unnamed: PeerNamer = peerId => ({ peerId, name: null })
