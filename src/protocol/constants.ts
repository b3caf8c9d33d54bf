/**
 * The protocol ids and the limits of the wire format (docs/protocol.md). Every limit is defined
 * here once; the block format, the peer registry and the replication engine take theirs from here.
 */

export const PAIR_PROTOCOL = '/drcore/pair/1'
export const REPLICATE_PROTOCOL = '/drcore/replicate/1'
export const FETCH_PROTOCOL = '/drcore/fetch/1'
export const REPAIR_PROTOCOL = '/drcore/repair/1'

/** Largest frame body on any drcore stream. */
export const MAX_FRAME_SIZE = 4 * 1024 * 1024
/** Largest block a block frame may carry; drcore cuts every block below this (points/constants.ts). */
export const MAX_BLOCK_SIZE = 1024 * 1024
/** Most CIDs in one `have` or `want`. */
export const MAX_CIDS_PER_MESSAGE = 16_384
/** Most addresses a peer may announce, and the most a Core keeps per peer. */
export const MAX_ADDRESSES = 16
/** Longest name, tenant or machine (in UTF-16 code units, as JavaScript counts). */
export const MAX_NAME_LENGTH = 128

/**
 * The CIDs of drcore blocks, the only ones it makes and accepts: version 1, sha2-256, codec raw
 * (chunks) or dag-cbor (nodes and manifests). points/blocks.ts makes blocks with these.
 */
export const RAW_CODE = 0x55
export const DAG_CBOR_CODE = 0x71
export const SHA2_256_CODE = 0x12

/**
 * How an `offer-reply` declining a point the target's own retention removed begins its reason:
 * the source then counts the point as settled there (not behind, not a warning). A target keeps
 * by its own policies (docs/retention.md).
 */
export const FORGOTTEN_BY_RETENTION = 'forgotten by retention'
