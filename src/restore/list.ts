import { dirEntries } from '../points/dir-tree.ts'
import { countMissing } from '../points/closure.ts'
import type { Entry } from '../points/nodes.ts'
import { displayName, showName } from '../points/names.ts'
import type { CID } from 'multiformats/cid'
import { select, volumeEntry } from './select.ts'
import type { ListEntry, PointSelector, RestoreDeps } from './api.ts'
import { isoFromNanos } from '../common/time.ts'

/**
 * Lists a directory of a point (or the single entry a file path names, or the point's volumes).
 * `present` tells whether an entry's data is all here; in a complete point it always is, in an
 * orphan it is checked per entry (a directory's whole subtree).
 */
export async function listPath (deps: RestoreDeps, sel: PointSelector): Promise<ListEntry[]> {
  const s = await select(deps, sel)
  // each entry's path as `restore --path` takes it: its volume's name first
  let dir: string[]
  let entries: Entry[]
  if (s.entry === undefined) {
    entries = Object.entries(s.signed.manifest.volumes).map(([name, ref]) => volumeEntry(name, ref))
    dir = []
  } else if (s.entry.type === 'dir') {
    dir = [s.volume!, ...s.parts]
    entries = []
    for await (const e of dirEntries(async cid => await deps.store.get(cid), s.entry.cid as CID)) entries.push(e)
  } else {
    dir = [s.volume!, ...s.parts.slice(0, -1)]
    entries = [s.entry]
  }
  const list: ListEntry[] = []
  for (const e of entries) {
    const present = s.record.complete || e.cid === undefined || await countMissing(deps.store, [e.cid]) === 0
    const name = displayName(e.name)
    const item: ListEntry = {
      path: [...dir, name.text].join('/'),
      name: name.text,
      type: e.type,
      size: e.size,
      mode: e.mode,
      mtime: isoFromNanos(e.mtime[0], e.mtime[1]),
      present
    }
    if (name.escaped) item.escaped = true
    if (e.target !== undefined) {
      const target = displayName(e.target)
      item.target = target.text
      if (target.escaped) item.targetEscaped = true
    }
    if (e.uid !== undefined) item.uid = e.uid
    if (e.gid !== undefined) item.gid = e.gid
    if (e.rdev !== undefined) item.rdev = e.rdev
    if (e.hardlink !== undefined) item.hardlink = e.hardlink
    if (e.xattrs !== undefined) item.xattrs = e.xattrs.map(([n]) => showName(n))
    list.push(item)
  }
  return list
}
