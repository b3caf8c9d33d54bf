/** Printing helpers: JSON for scripts, aligned tables for people. */
export function printJson (value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n')
}

export interface Column<T> {
  header: string
  value: (row: T) => string | number | boolean | null | undefined
}

export function printTable<T> (rows: T[], columns: Array<Column<T>>, empty = '(none)'): void {
  if (rows.length === 0) {
    process.stdout.write(empty + '\n')
    return
  }
  process.stdout.write(formatTable(rows, columns).join('\n') + '\n')
}

/** The lines of an aligned table: a header of upper-case names, then one line per row. */
export function formatTable<T> (rows: T[], columns: Array<Column<T>>): string[] {
  const cells = rows.map(r => columns.map(c => { const v = c.value(r); return v == null ? '-' : String(v) }))
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map(row => row[i].length)))
  const line = (values: string[]): string => values.map((v, i) => i === values.length - 1 ? v : v.padEnd(widths[i])).join('  ').trimEnd()
  return [line(columns.map(c => c.header.toUpperCase())), ...cells.map(line)]
}

/** A peer as the text output names it: the name this Core knows it by, else its shortened id. */
export function peerText (ref: { peerId: string, name: string | null } | null | undefined): string {
  if (ref == null) return '-'
  return ref.name ?? shortId(ref.peerId)
}

export function shortId (id: string | null | undefined): string {
  if (id == null) return '-'
  return id.length > 16 ? `${id.slice(0, 6)}…${id.slice(-8)}` : id
}
