import type { CID } from 'multiformats/cid'
import { InvalidInputError, NotFoundError } from '../errors.ts'
import { loadManifest } from '../points/manifest.ts'
import { lookupEntry } from '../points/dir-tree.ts'
import type { Entry } from '../points/nodes.ts'
import { parseEscapedName } from '../points/names.ts'
import type { PointRecord, SignedPoint, VolumeRef } from '../points/api.ts'
import type { PointSelector, RestoreDeps } from './api.ts'

export interface Selection {
  record: PointRecord
  signed: SignedPoint
  /** undefined: no volume chosen, the point's volumes are the entries */
  volume?: string
  /** path components inside the volume */
  parts: string[]
  /** the entry at the path (a volume root is an entry named after the volume) */
  entry?: Entry
}

/** Resolves machine, point, volume and path to an entry, reading only the nodes on the path. */
export async function select (deps: RestoreDeps, sel: PointSelector): Promise<Selection> {
  const { record } = await deps.points.resolvePoint(sel.machine, sel.point)
  const signed = await loadManifest(deps.store, record.point)
  const volumes = signed.manifest.volumes
  const parts = splitPath(sel.path)
  let volume = sel.volume
  if (volume === undefined) {
    // one rule for every machine: a path starts with its volume's name; a machine's only volume
    // may be left out (so `ls web01 doc/bash` and `ls web01 bash` agree when doc is its only one)
    const names = Object.keys(volumes)
    if (parts.length > 0 && Object.hasOwn(volumes, parts[0])) volume = parts.shift() as string
    else if (names.length === 1) volume = names[0]
    else if (parts.length > 0) throw new NotFoundError(`point ${record.point} of ${record.machine} has volumes ${names.join(', ')}; name one with --volume or start the path with it`)
    else return { record, signed, parts }
  }
  const ref = Object.hasOwn(volumes, volume) ? volumes[volume] : undefined
  if (ref === undefined) {
    throw new NotFoundError(`point ${record.point} of ${record.machine} has no volume ${volume} (its volumes: ${Object.keys(volumes).join(', ')})`)
  }
  let entry = volumeEntry(volume, ref)
  for (const [i, name] of parts.entries()) {
    const where = `${volume}/${parts.slice(0, i + 1).join('/')}`
    if (entry.type !== 'dir') throw new NotFoundError(`not a directory in point ${record.point}: ${volume}/${parts.slice(0, i).join('/')}`)
    const get = async (cid: CID): Promise<Uint8Array> => await deps.store.get(cid)
    let next = await lookupEntry(get, entry.cid as CID, name)
    // a name shown escaped in a listing (bytes that are not UTF-8) is looked up by its bytes
    const escaped = next === undefined ? parseEscapedName(name) : undefined
    if (escaped !== undefined) next = await lookupEntry(get, entry.cid as CID, escaped)
    if (next === undefined) throw new NotFoundError(`no such file or directory in point ${record.point} of ${record.machine}: ${where}`)
    entry = next
  }
  return { record, signed, volume, parts, entry }
}

/** A volume's root as an entry named after the volume, with the root's metadata. */
export function volumeEntry (name: string, ref: VolumeRef): Entry {
  const entry: Entry = { name, type: ref.type, mode: ref.mode, mtime: ref.mtime, size: ref.bytes, cid: ref.root }
  if (ref.uid !== undefined) entry.uid = ref.uid
  if (ref.gid !== undefined) entry.gid = ref.gid
  if (ref.xattrs !== undefined) entry.xattrs = ref.xattrs
  return entry
}

function splitPath (path: string | undefined): string[] {
  if (path === undefined) return []
  const parts = path.split('/').filter(p => p !== '' && p !== '.')
  if (parts.includes('..')) throw new InvalidInputError(`a path inside a point cannot contain "..": ${path}`)
  return parts
}
