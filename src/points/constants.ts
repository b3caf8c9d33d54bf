/** No block may exceed this (CAR tools and IPFS peers cap blocks at a few MiB). */
export const MAX_BLOCK_SIZE = 1024 * 1024

/** Target ceiling for a dag-cbor node: file index nodes and directory nodes stay below it. */
export const MAX_NODE_SIZE = 256 * 1024

/** Current manifest version. */
export const MANIFEST_VERSION = 1
