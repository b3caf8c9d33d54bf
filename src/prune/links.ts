import { CID } from 'multiformats/cid'
import { isRaw } from '../points/blocks.ts'
import { decodeCbor, isDrcoreCid } from '../points/blocks.ts'

/** Only nodes and manifests link to other blocks; a raw chunk is never read by the mark. */
export function hasLinks (cid: CID): boolean {
  return !isRaw(cid)
}

/**
 * Every block a stored dag-cbor block links to, as garbage collection follows them: any CID
 * anywhere in a node (entries, parts, index parts: whatever the shape, so a node this drcore
 * would refuse still keeps what it names), and a manifest's volume roots, but not its parent
 * (a point's closure is its own; a parent forgotten is garbage). A block that does not decode
 * links to nothing.
 */
export function blockLinks (_cid: CID, bytes: Uint8Array): CID[] {
  let value: unknown
  try {
    value = decodeCbor(bytes, 'block')
  } catch {
    return []
  }
  const links: CID[] = []
  if (isPointWrapper(value)) {
    const { parent: _, ...manifest } = value.manifest
    collect(manifest, links)
  } else {
    collect(value, links)
  }
  return links
}

function isPointWrapper (value: unknown): value is { manifest: Record<string, unknown> } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && 'manifest' in value && 'signature' in value &&
    typeof (value as { manifest: unknown }).manifest === 'object' && (value as { manifest: unknown }).manifest !== null
}

function collect (value: unknown, links: CID[]): void {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return
  const cid = CID.asCID(value)
  if (cid != null) {
    if (isDrcoreCid(cid)) links.push(cid)
    return
  }
  if (Array.isArray(value)) {
    for (const item of value) collect(item, links)
    return
  }
  for (const item of Object.values(value)) collect(item, links)
}
