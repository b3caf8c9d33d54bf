/**
 * LevelDB keys made of several parts (tenant, origin, machine ...): the parts are joined by a
 * separator below every character a part may contain, so that the range of a key prefix holds
 * exactly the keys that start with those parts (`web0` never takes in `web01`'s keys).
 */
export const KEY_SEP = '\x00'

/** The keys that start with `prefix`: a range for LevelDB's iterators and `clear`. */
export function prefixRange (prefix: string): { gte: string, lt: string } {
  return { gte: prefix, lt: prefix + '\uffff' }
}
