/**
 * The type of an operation's implementation, derived from the operation table: a handler of
 * `ruleAdd` receives `{ machine: string, to: string, schedule?: string, ... }` exactly as
 * `validateInput` leaves it. The composition root (src/core/) implements one per operation.
 */
import type { OperationName, operations, ParamType, ProgressFn } from './operations.ts'

/** The value of a parameter of each type, after validation. */
interface ParamValues {
  string: string
  integer: number
  boolean: boolean
  'string[]': string[]
  'object[]': Array<Record<string, unknown>>
}

type ParamsOf<N extends OperationName> = (typeof operations)[N]['params']
type ValueOf<P> = P extends { type: infer T extends ParamType } ? ParamValues[T] : never
type RequiredKeys<P> = { [K in keyof P]: P[K] extends { required: true } ? K : never }[keyof P]

/** The validated input of operation `N`: its required parameters, and its optional ones. */
export type OperationInput<N extends OperationName> = {
  [K in RequiredKeys<ParamsOf<N>>]: ValueOf<ParamsOf<N>[K]>
} & {
  [K in Exclude<keyof ParamsOf<N>, RequiredKeys<ParamsOf<N>>>]?: ValueOf<ParamsOf<N>[K]>
}

/** Runs operation `N`; long operations report progress through `onProgress`. */
export type Handler<N extends OperationName> = (input: OperationInput<N>, onProgress?: ProgressFn) => Promise<unknown>

/** One handler per operation of the table. */
export type Handlers = { [N in OperationName]: Handler<N> }
