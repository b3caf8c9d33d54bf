/** No block may exceed this: the wire's limit (CAR tools and IPFS peers cap blocks at a few MiB). */
export { MAX_BLOCK_SIZE } from '../protocol/constants.ts'

/** Target ceiling for a dag-cbor node: file index nodes and directory nodes stay below it. */
export const MAX_NODE_SIZE = 256 * 1024

/**
 * The manifest version this drcore writes. Version 2 added byte names, special files, hard links,
 * ctime, extended attributes and the `skipped` count (docs/formats.md); every version 1 manifest
 * and node is also valid in version 2, so both are read.
 */
export const MANIFEST_VERSION = 2
/** the manifest versions this drcore reads */
export const READABLE_MANIFEST_VERSIONS: readonly number[] = [1, 2]
