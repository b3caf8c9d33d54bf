import { RuleNotFoundError } from '../rules/index.ts'

/**
 * For `.catch` on a read of a rule: a rule removed meanwhile (`RuleNotFoundError`, and nothing
 * else) becomes `value`; every other failure (the store's) goes on to the caller.
 */
export function ifRemoved<T> (value: T): (err: unknown) => T {
  return err => {
    if (err instanceof RuleNotFoundError) return value
    throw err
  }
}
