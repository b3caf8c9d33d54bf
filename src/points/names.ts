/**
 * Names are bytes (docs/formats.md, "Names"). A directory entry's name, a symlink's target and an
 * extended attribute's name are whatever bytes the file system holds. In a node, and in memory,
 * such a value is a string when its bytes are valid UTF-8 (a CBOR text string: the common case,
 * and what version 1 wrote) and a `Uint8Array` of the raw bytes otherwise (a CBOR byte string).
 * One form per value keeps nodes canonical: equal names, equal bytes, equal nodes.
 */
export type Name = string | Uint8Array

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** The name of these bytes: a string when they are valid UTF-8, else a copy of the bytes. */
export function nameOf (bytes: Uint8Array): Name {
  try {
    return strict.decode(bytes)
  } catch {
    return Uint8Array.prototype.slice.call(bytes)
  }
}

/** The raw bytes of a name. */
export function nameBytes (name: Name): Buffer {
  return typeof name === 'string' ? Buffer.from(name, 'utf8') : Buffer.from(name.buffer, name.byteOffset, name.byteLength)
}

/** Byte length of a name. */
export function nameLength (name: Name): number {
  return typeof name === 'string' ? Buffer.byteLength(name, 'utf8') : name.length
}

/** Orders names by their bytes (for UTF-8 names, code point order), the order of directory entries. */
export function compareNames (a: Name, b: Name): number {
  return Buffer.compare(nameBytes(a), nameBytes(b))
}

export function sameName (a: Name, b: Name): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a === b
  return compareNames(a, b) === 0
}

/**
 * A name in its canonical form: a string only holds valid UTF-8 (it cannot hold lone
 * surrogates), bytes only when they are not valid UTF-8.
 */
export function isCanonicalName (value: unknown): value is Name {
  if (typeof value === 'string') return value.isWellFormed()
  if (!(value instanceof Uint8Array)) return false
  try {
    strict.decode(value)
    return false
  } catch {
    return true
  }
}

/** The longest name Linux file systems accept (NAME_MAX). */
export const NAME_MAX = 255

/** A path component that is safe to create under a restore directory. */
export function isSafeName (name: unknown): name is Name {
  if (!isCanonicalName(name)) return false
  const bytes = nameBytes(name)
  return bytes.length > 0 && bytes.length <= NAME_MAX && !bytes.includes(0x2f) && !bytes.includes(0) &&
    !(bytes.length === 1 && bytes[0] === 0x2e) && !(bytes.length === 2 && bytes[0] === 0x2e && bytes[1] === 0x2e)
}

/**
 * A readable form of a name for listings and messages: a string as it is; bytes that are not
 * valid UTF-8 with each such byte as `\xHH` and every backslash doubled, so the form reads back
 * to exactly those bytes (`parseEscapedName`). `escaped` says which form it is.
 */
export function displayName (name: Name): { text: string, escaped: boolean } {
  if (typeof name === 'string') return { text: name, escaped: false }
  return { text: escapeBytes(name), escaped: true }
}

/** `displayName(...).text` */
export function showName (name: Name): string {
  return displayName(name).text
}

const SLASH = Buffer.from('/')

/** The path of the entry `name` in the directory `dir`, as bytes (neither need be UTF-8). */
export function childPath (dir: Buffer, name: Name): Buffer {
  return Buffer.concat([dir, SLASH, nameBytes(name)])
}

/** A path (any bytes) as readable text: valid UTF-8 as it is, else escaped like a name. */
export function showPath (path: Uint8Array | string): string {
  if (typeof path === 'string') return path
  return showName(nameOf(path))
}

function escapeBytes (bytes: Uint8Array): string {
  let out = ''
  let i = 0
  while (i < bytes.length) {
    const n = utf8SequenceLength(bytes, i)
    if (n === 0) {
      out += `\\x${bytes[i].toString(16).padStart(2, '0')}`
      i++
      continue
    }
    const text = Buffer.from(bytes.buffer, bytes.byteOffset + i, n).toString('utf8')
    out += text === '\\' ? '\\\\' : text
    i += n
  }
  return out
}

/** Length of the valid UTF-8 sequence starting at `i`, or 0 when there is none. */
function utf8SequenceLength (b: Uint8Array, i: number): number {
  const c = b[i]
  if (c < 0x80) return 1
  const cont = (k: number): boolean => i + k < b.length && (b[i + k] & 0xc0) === 0x80
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0
    const c1 = b[i + 1]
    if (c === 0xe0 && c1 < 0xa0) return 0 // overlong
    if (c === 0xed && c1 >= 0xa0) return 0 // surrogate
    return 3
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0
    const c1 = b[i + 1]
    if (c === 0xf0 && c1 < 0x90) return 0 // overlong
    if (c === 0xf4 && c1 >= 0x90) return 0 // above U+10FFFF
    return 4
  }
  return 0
}

/**
 * The name an escaped form stands for (`\xHH` a byte, `\\` a backslash), or undefined when the
 * text is not such a form (no escape in it, or a backslash that starts none).
 */
export function parseEscapedName (text: string): Name | undefined {
  if (!text.includes('\\')) return undefined
  const bytes: number[] = []
  for (let i = 0; i < text.length;) {
    const ch = text[i]
    if (ch === '\\') {
      if (text[i + 1] === '\\') {
        bytes.push(0x5c)
        i += 2
        continue
      }
      const hex = /^x([0-9a-fA-F]{2})/.exec(text.slice(i + 1, i + 4))
      if (hex === null) return undefined
      bytes.push(parseInt(hex[1], 16))
      i += 4
      continue
    }
    const cp = text.codePointAt(i) as number
    const s = String.fromCodePoint(cp)
    for (const b of Buffer.from(s, 'utf8')) bytes.push(b)
    i += s.length
  }
  return nameOf(Uint8Array.from(bytes))
}
