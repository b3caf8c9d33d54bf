/**
 * The drcore wire format (docs/protocol.md): protocol ids and limits, the message catalogue, its
 * strict validation, and the frame codec. It is the contract between Cores, so it sits below the
 * transport (net/) and every service that speaks it, and imports nothing of drcore but errors.ts.
 */
export * from './constants.ts'
export * from './messages.ts'
export { validateMessage, isBlockCid } from './schema.ts'
export { bitmapOf, bitmapIndexes } from './bitmap.ts'
export {
  BLOCK_FRAME_MARKER, STORED_BLOCK_FRAME_MARKER, STORED_ZSTD, decodeFrameBody, decodeFrameHeader, decodeFrames, encodeBlockFrame, encodeMessageFrame,
  encodeStoredBlockFrame, isMessageBody, storedBlockFrameLength, verifyBlock
} from './codec.ts'
export type { StoredBody } from './codec.ts'
