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

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB']

export function formatBytes (n: number): string {
  let i = 0
  let v = n
  while (v >= 1024 && i < UNITS.length - 1) { v /= 1024; i++ }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${UNITS[i]}`
}

/** "10M", "1.5G", "512k", "300" → bytes (binary multiples) */
export function parseSize (text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(text.trim())
  if (m == null) throw new Error(`not a size: "${text}" (use e.g. 512K, 10M, 4G)`)
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't']
  return Math.round(Number(m[1]) * mult)
}

export function shortId (id: string | null | undefined): string {
  if (id == null) return '-'
  return id.length > 16 ? `${id.slice(0, 6)}…${id.slice(-8)}` : id
}
