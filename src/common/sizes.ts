/**
 * Sizes as people write and read them, in binary multiples (K is 1024): `--max-size 700M`,
 * `--limit 10M`, `4.2 GiB` in a table.
 */

const MULTIPLES: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }
const SIZE = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i
const RATE = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?(\/s)?$/i

/**
 * A number of bytes with an optional multiple K, M, G or T, upper or lower case (`512K` is
 * 524,288; `1.5G`); `B` or `iB` may follow (`10MiB`), and with `perSecond` also `/s` (`10MiB/s`).
 * Not rounded (a part size and a rate round differently); undefined when the text is not a
 * size, so that the caller's error can name its option.
 */
export function parseSize (text: string, options: { perSecond?: boolean } = {}): number | undefined {
  const m = (options.perSecond === true ? RATE : SIZE).exec(text.trim())
  if (m == null) return undefined
  return Number(m[1]) * MULTIPLES[m[2].toLowerCase()]
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB']

/** `512 B`, `1.50 KiB`, `10.0 MiB`: three significant figures or so, for people. */
export function formatBytes (n: number): string {
  let i = 0
  let v = n
  while (v >= 1024 && i < UNITS.length - 1) { v /= 1024; i++ }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${UNITS[i]}`
}
