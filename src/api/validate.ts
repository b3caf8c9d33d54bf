import { UsageError } from '../errors.ts'
import type { OperationSpec } from './operations.ts'

/**
 * Checks an operation's input against its declared parameters and coerces query-string values
 * (`"3"`, `"true"`) to their types. Unknown fields and wrong types are a `UsageError` naming the
 * field, which the HTTP API answers with 400.
 */
export function validateInput (name: string, spec: OperationSpec, input: unknown, fromQuery = false): Record<string, unknown> {
  if (input == null) input = {}
  if (typeof input !== 'object' || Array.isArray(input)) throw new UsageError(`${name}: the request body must be a JSON object`)
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(input as Record<string, unknown>)) {
    const param = spec.params[key as keyof typeof spec.params] as OperationSpec['params'][string] | undefined
    if (param == null) throw new UsageError(`${name}: unknown field "${key}"`)
    if (value === undefined || value === null) continue
    out[key] = coerce(name, key, param.type, value, fromQuery)
  }
  for (const [key, param] of Object.entries(spec.params)) {
    if (param.required === true && out[key] === undefined) throw new UsageError(`${name}: missing field "${key}"`)
  }
  return out
}

function coerce (name: string, key: string, type: string, value: unknown, fromQuery: boolean): unknown {
  const bad = (): never => { throw new UsageError(`${name}: field "${key}" must be ${type === 'object[]' ? 'a list of objects' : type === 'string[]' ? 'a list of strings' : `${type === 'integer' ? 'an' : 'a'} ${type}`}`) }
  switch (type) {
    case 'string':
      if (typeof value !== 'string') bad()
      return value
    case 'integer':
      if (fromQuery && typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value)
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) bad()
      return value
    case 'boolean':
      if (fromQuery && (value === 'true' || value === 'false' || value === '')) return value !== 'false'
      if (typeof value !== 'boolean') bad()
      return value
    case 'string[]':
      if (fromQuery && typeof value === 'string') return value.split(',').filter(v => v !== '')
      if (!Array.isArray(value) || !value.every(v => typeof v === 'string')) bad()
      return value
    case 'object[]':
      if (!Array.isArray(value) || !value.every(v => v != null && typeof v === 'object' && !Array.isArray(v))) bad()
      return value
    default:
      return bad()
  }
}
