import { InvalidInputError } from '../errors.ts'

/**
 * A name that matches more than one thing (a machine name held by several tenants or origins, a
 * point id prefix of several points): the request must name one. The message lists the matches.
 */
export class AmbiguousNameError extends InvalidInputError {
  override name = 'AmbiguousNameError'
}
